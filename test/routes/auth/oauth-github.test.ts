import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type Test } from 'tap'
import { build, cookieOf, type TestContext } from '../../helper.js'
import { APP, errorOf, start } from '../../oauth/flow-helper.js'

interface FakeUser { id: number, login: string, name: string, emails: Array<{ email: string, primary: boolean, verified: boolean }> }

/**
 * An OAuth-2-only provider in GitHub's shape, written here: authorize (approves at once as
 * `current`), a token endpoint that answers errors with 200 as GitHub does, /user (numeric
 * id, no `sub`) and /user/emails.
 */
async function startFakeGitHub (t: Test): Promise<{ base: string, current: { user: FakeUser }, seen: Array<Record<string, string>> }> {
  const codes = new Map<string, { challenge: string, method: string, redirectUri: string, user: FakeUser }>()
  const tokens = new Map<string, FakeUser>()
  const current = { user: { id: 4242, login: 'octo', name: 'Octo Cat', emails: [{ email: 'octo@example.com', primary: true, verified: true }] } as FakeUser }
  const seen: Array<Record<string, string>> = []
  const body = async (req: IncomingMessage): Promise<URLSearchParams> => {
    let s = ''
    for await (const c of req) s += String(c)
    return new URLSearchParams(s)
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    const json = (status: number, value: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value)) }
    const bearer = (): FakeUser | undefined => tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''))
    if (url.pathname === '/login/oauth/authorize') {
      const code = `code-${Math.random().toString(36).slice(2)}`
      const q = url.searchParams
      codes.set(code, { challenge: q.get('code_challenge') ?? '', method: q.get('code_challenge_method') ?? '', redirectUri: q.get('redirect_uri')!, user: current.user })
      const back = new URL(q.get('redirect_uri')!)
      back.searchParams.set('code', code)
      back.searchParams.set('state', q.get('state')!)
      res.writeHead(302, { location: back.href }).end()
    } else if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      body(req).then(form => {
        seen.push(Object.fromEntries(form))
        const grant = codes.get(form.get('code') ?? '')
        codes.delete(form.get('code') ?? '')
        const verifier = form.get('code_verifier') ?? ''
        const ok = grant !== undefined && form.get('client_id') === 'gh-client' && form.get('client_secret') === 'gh-secret' &&
          grant.method === 'S256' && createHash('sha256').update(verifier).digest('base64url') === grant.challenge && grant.redirectUri === form.get('redirect_uri')
        if (!ok) return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' })
        const token = `gho_${Math.random().toString(36).slice(2)}`
        tokens.set(token, grant.user)
        json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
      }, () => res.destroy())
    } else if (url.pathname === '/user') {
      const u = bearer()
      if (u === undefined) return json(401, { message: 'Bad credentials' })
      json(200, { id: u.id, login: u.login, name: u.name, email: null })
    } else if (url.pathname === '/user/emails') {
      const u = bearer()
      if (u === undefined) return json(401, { message: 'Bad credentials' })
      json(200, u.emails.map(e => ({ ...e, visibility: null })))
    } else {
      json(404, { message: 'Not Found' })
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, current, seen }
}

async function setup (t: Test): Promise<{ ctx: TestContext, gh: Awaited<ReturnType<typeof startFakeGitHub>> }> {
  const gh = await startFakeGitHub(t)
  const entry = {
    id: 'gh',
    preset: 'github',
    clientId: 'gh-client',
    clientSecret: 'gh-secret',
    authorizationUrl: `${gh.base}/login/oauth/authorize`,
    tokenUrl: `${gh.base}/login/oauth/access_token`,
    userinfoUrl: `${gh.base}/user`,
    emailsUrl: `${gh.base}/user/emails`,
    local: true
  }
  const ctx = await build(t, { OAUTH_PROVIDERS: JSON.stringify([entry]) })
  return { ctx, gh }
}

async function flow (ctx: TestContext, mutate?: (back: URL) => void): Promise<Awaited<ReturnType<TestContext['app']['inject']>>> {
  const s = await start(ctx, '?returnTo=/', 'gh')
  const approve = await fetch(s.location, { redirect: 'manual' })
  const back = new URL(approve.headers.get('location')!)
  mutate?.(back)
  return await ctx.app.inject({ method: 'GET', url: back.pathname + back.search, headers: { cookie: s.flowCookie } })
}

test('a GitHub-shaped provider signs in by its numeric id and its primary verified email, with PKCE', async (t) => {
  const { ctx, gh } = await setup(t)
  const providers = await ctx.app.inject({ url: '/api/auth/oauth/providers' })
  t.same(providers.json().providers, [{ id: 'gh', name: 'GitHub' }])
  const s = await start(ctx, '?returnTo=/', 'gh')
  t.equal(s.location.searchParams.get('scope'), 'read:user user:email')
  t.equal(s.location.searchParams.get('code_challenge_method'), 'S256')
  t.equal(s.location.searchParams.get('nonce'), null, 'no nonce without OpenID Connect')

  const res = await flow(ctx)
  t.equal(res.headers.location, `${APP}/`)
  t.equal(gh.seen.at(-1)?.code_verifier?.length, 43, 'the verifier went to the token endpoint')
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: cookieOf(res)! } })
  t.equal(me.json().user.email, 'octo@example.com')
  t.equal(me.json().user.emailVerified, true)
  const userId = await ctx.app.oauth.identities.userOf('https://github.com', '4242')
  t.equal(userId, me.json().user.id, 'keyed by the provider and its numeric id')

  // The address changes at GitHub: the same id still signs in to the same account.
  gh.current.user = { ...gh.current.user, emails: [{ email: 'new@example.com', primary: true, verified: true }] }
  const again = await flow(ctx)
  const me2 = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: cookieOf(again)! } })
  t.equal(me2.json().user.id, me.json().user.id)
})

test('an unverified primary email at a GitHub-shaped provider creates no account', async (t) => {
  const { ctx, gh } = await setup(t)
  gh.current.user = { id: 7, login: 'x', name: 'X', emails: [{ email: 'x@example.com', primary: true, verified: false }, { email: 'y@example.com', primary: false, verified: true }] }
  const res = await flow(ctx)
  t.equal(errorOf(res), 'OAUTH_EMAIL_UNVERIFIED')
  t.equal(await ctx.redis.scard(`${ctx.config.redisKeyPrefix}users`), 0)
})

test('a token endpoint error answered with 200 (GitHub\'s way) is a refusal, not a sign-in', async (t) => {
  const { ctx } = await setup(t)
  const res = await flow(ctx, back => back.searchParams.set('code', 'forged'))
  t.equal(errorOf(res), 'OAUTH_TOKEN_INVALID')
  t.notOk(cookieOf(res))
})
