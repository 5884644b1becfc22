import t, { type Test } from 'tap'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, PROJECT_ROOT } from '../../src/redis/local-server.js'
import { PASSWORD, startApiServer, tokenFromOutbox, uniqueEmail } from '../helper.js'

/*
 * The README's nginx configuration, as printed, in front of the built server in production
 * mode: TLS ends at nginx, TRUST_PROXY=1, the recommended __Host- cookie name. Only the
 * addresses, ports and certificate paths are replaced.
 */

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/opt/homebrew/bin/nginx', '/usr/local/bin/nginx']
  .find(p => spawnSync(p, ['-v']).status === 0) ?? (spawnSync('nginx', ['-v']).status === 0 ? 'nginx' : undefined)
if (NGINX === undefined) t.fail('nginx is not installed: sudo apt-get install nginx (macOS: brew install nginx)')

/** The client's own address: another loopback address than nginx's, so the two can be told apart (Linux routes all of 127/8). */
const CLIENT = '127.0.0.2'

interface Answer { status: number, headers: IncomingHttpHeaders, body: any }

async function send (url: string, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const u = new URL(path, url)
  const make = u.protocol === 'https:' ? request : httpRequest
  return await new Promise((resolve, reject) => {
    const req = make(u, {
      method,
      localAddress: CLIENT,
      rejectUnauthorized: false,
      headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }) }
    }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => {
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** The README's block with this test's ports and certificate; each replacement must apply. */
async function nginxBlock (t: Test, apiPort: number, tlsPort: number, httpPort: number, dir: string): Promise<string> {
  const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8')
  const block = readme.match(/<!-- deploy: nginx -->\s*\n```nginx\n([\s\S]*?)\n```/)?.[1]
  t.ok(block, 'the README has the nginx block')
  let conf = block ?? ''
  const replace = (from: string, to: string): void => {
    t.ok(conf.includes(from), `the block has ${from}`)
    conf = conf.replaceAll(from, to)
  }
  replace('server 127.0.0.1:3000;', `server 127.0.0.1:${apiPort};`)
  replace('listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`)
  replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
  replace('/etc/ssl/auth.example.com/fullchain.pem', join(dir, 'cert.pem'))
  replace('/etc/ssl/auth.example.com/privkey.pem', join(dir, 'key.pem'))
  return conf
}

const METRICS_TOKEN = 'a-metrics-token-for-the-scraper'

t.test('the README\'s nginx configuration in front of the built server', { skip: NGINX === undefined }, async t => {
  t.setTimeout(240_000)
  const [tlsPort, httpPort] = [await freePort(), await freePort()]
  const origin = `https://localhost:${tlsPort}`
  const api = await startApiServer(t, {
    built: true,
    env: {
      NODE_ENV: 'production',
      SESSION_SECRET: 'a-test-secret-that-is-long-enough-for-production',
      DATA_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      METRICS_TOKEN,
      SESSION_COOKIE_NAME: '__Host-session',
      TRUST_PROXY: '1',
      PUBLIC_URL: origin,
      APP_ORIGIN: ''
    }
  })

  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-nginx-'))
  // nginx's workers may run as another user than its master (root in CI): let them in.
  await chmod(dir, 0o755)
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(k => `${k}_temp_path ${join(dir, k)};`).join('\n  ')
  await writeFile(join(dir, 'nginx.conf'), `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  ${temp}
${await nginxBlock(t, api.port, tlsPort, httpPort, dir)}
}
`)
  const nginx = spawn(NGINX!, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let nginxErr = ''
  nginx.stderr.on('data', (c: Buffer) => { nginxErr += c.toString() })
  t.teardown(async () => {
    if (nginx.exitCode === null && nginx.signalCode === null) {
      await new Promise<void>(resolve => {
        nginx.once('exit', () => resolve())
        nginx.kill('SIGQUIT')
      })
    }
    await rm(dir, { recursive: true, force: true })
  })
  for (let i = 0; ; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}: ${nginxErr}`)
    try {
      if ((await send(origin, 'GET', '/health/live')).status === 200) break
    } catch {}
    if (i > 100) throw new Error(`nginx did not answer: ${nginxErr}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }

  const redirect = await send(`http://localhost:${httpPort}`, 'GET', '/api/auth/me')
  t.equal(redirect.status, 301, 'plain HTTP is redirected')
  t.equal(redirect.headers.location, 'https://localhost/api/auth/me', 'to HTTPS')

  const email = uniqueEmail('proxy')
  t.equal((await send(origin, 'POST', '/api/auth/register', {}, { email, password: PASSWORD })).status, 202)
  const token = await tokenFromOutbox(api.outbox, email, 'verify-email')
  t.equal((await send(origin, 'POST', '/api/auth/verify-email', {}, { token })).status, 200)

  // A client that writes its own X-Forwarded-For: nginx appends the real address, and with
  // TRUST_PROXY=1 only that last entry counts.
  const login = await send(origin, 'POST', '/api/auth/login', { 'x-forwarded-for': '203.0.113.66' }, { email, password: PASSWORD })
  t.equal(login.status, 200, 'signed in through the proxy')
  const setCookie = [login.headers['set-cookie'] ?? []].flat().find(c => c.startsWith('__Host-session='))
  t.ok(setCookie, 'the __Host- cookie is set')
  const attributes = (setCookie ?? '').split(';').slice(1).map(a => a.trim().toLowerCase())
  t.ok(attributes.includes('secure'), 'Secure')
  t.ok(attributes.includes('path=/'), 'Path=/')
  t.ok(attributes.includes('httponly'), 'HttpOnly')
  t.notOk(attributes.some(a => a.startsWith('domain=')), 'no Domain, as a __Host- cookie must be')
  t.match(String(login.headers['strict-transport-security']), /max-age=\d+/, 'HSTS in production')
  const cookie = (setCookie ?? '').split(';')[0]

  const sessions = await send(origin, 'GET', '/api/auth/sessions', { cookie })
  t.equal(sessions.status, 200)
  t.equal(sessions.body.sessions?.[0]?.ip, CLIENT, 'the session records the client\'s address: not the proxy\'s, not the forged one')

  const foreign = await send(origin, 'POST', '/api/auth/logout', { cookie, origin: 'https://evil.example' })
  t.equal(foreign.status, 403, 'a cross-site POST through the proxy is refused')
  const logout = await send(origin, 'POST', '/api/auth/logout', { cookie, origin, 'x-csrf-token': login.body.csrfToken })
  t.equal(logout.status, 204, 'a signed-in POST from the page\'s own origin passes the proxy and the CSRF check')
  t.equal((await send(origin, 'GET', '/api/auth/me', { cookie })).status, 401, 'and signs out')

  const openapi = await send(origin, 'GET', '/openapi.json')
  t.same(openapi.body.servers?.map((s: { url: string }) => s.url), [origin], 'the OpenAPI document names the public URL as its server')

  t.equal((await send(origin, 'GET', '/metrics')).status, 404, '/metrics is not served through the proxy')
  t.equal((await fetch(`${api.url}/metrics`)).status, 401, 'the server\'s own address wants the token')
  t.equal((await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200, 'and answers with it')
})
