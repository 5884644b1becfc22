import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'
import type { Test } from 'tap'

export interface TestAccount {
  email?: string
  email_verified?: boolean
  given_name?: string
  family_name?: string
}

export interface TestClient { clientId: string, clientSecret: string }

export interface TestProvider {
  issuer: string
  /** test accounts by login name; the login name is the subject */
  accounts: Map<string, TestAccount>
  clients: { main: TestClient, other: TestClient }
  /** when set, rewrites the next token endpoint answers (as JSON) before the relying party sees them */
  tamperToken: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined
  /** the provider's own requests handled so far, by path */
  hits: string[]
  /** OAUTH_PROVIDERS entry for the main client */
  entry: (id?: string) => Record<string, unknown>
  /** stops the provider: it becomes unreachable */
  close: () => Promise<void>
}

/**
 * A real OpenID Provider (panva's oidc-provider, its development login and consent pages)
 * on a free port over plain http. `redirectUris` is called once the first request arrives,
 * so an app that listens after the provider started can still be its client.
 */
export async function startProvider (t: Pick<Test, 'teardown'>, redirectUris: () => string[]): Promise<TestProvider> {
  const server = createServer((req, res) => { handle(req, res) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const accounts = new Map<string, TestAccount>()
  const clients = { main: { clientId: 'gatehouse', clientSecret: 'gatehouse-secret-0123456789' }, other: { clientId: 'other-app', clientSecret: 'other-secret-0123456789' } }
  let provider: Provider | undefined

  const tp: TestProvider = {
    issuer,
    accounts,
    clients,
    tamperToken: undefined,
    hits: [],
    entry: (id = 'test') => ({ id, name: 'Test OP', issuer, clientId: clients.main.clientId, clientSecret: clients.main.clientSecret, local: true }),
    close: async () => {
      if (!server.listening) return
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }

  const build = (): Provider => {
    const uris = redirectUris()
    const p = new Provider(issuer, {
      clients: [clients.main, clients.other].map(c => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        redirect_uris: uris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post'
      })),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name'] },
      findAccount: async (_ctx, id) => {
        const account = accounts.get(id)
        if (account === undefined) return undefined
        return { accountId: id, claims: async () => ({ sub: id, ...account }) }
      },
      cookies: { keys: ['test-cookie-key-0123456789'] },
      ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
      features: { devInteractions: { enabled: true } }
    })
    // Development warnings of the provider's own are not this suite's subject.
    p.on('server_error', () => {})
    return p
  }

  function handle (req: IncomingMessage, res: ServerResponse): void {
    provider ??= build()
    tp.hits.push((req.url ?? '').split('?')[0])
    if (tp.tamperToken !== undefined && req.method === 'POST' && req.url === '/token' && req.headers['x-passthrough'] === undefined) {
      tamper(req, res).catch(() => { res.destroy() })
      return
    }
    provider.callback()(req, res)
  }

  // Forwards the token request to the provider itself, then rewrites its JSON answer.
  async function tamper (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: Record<string, string> = { 'x-passthrough': '1' }
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v
    const answer = await fetch(`${issuer}/token`, { method: 'POST', headers, body: Buffer.concat(chunks) })
    const body = await answer.json() as Record<string, unknown>
    const out = answer.ok ? tp.tamperToken!(body) : body
    res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(out))
  }

  t.teardown(tp.close)
  return tp
}

/** A cookie jar just big enough for one provider origin. */
class Jar {
  readonly #cookies = new Map<string, string>()
  take (res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const i = pair.indexOf('=')
      const name = pair.slice(0, i).trim()
      const value = pair.slice(i + 1)
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  header (): string { return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
}

/**
 * Plays the browser at the provider: follows the authorization URL, signs in as `login` on
 * the development login page, consents, and returns the URL the provider sends the browser
 * back to (the relying party's callback, with code and state, or an error).
 */
export async function authorizeAtProvider (authorizationUrl: string, login: string, callbackPrefix: string): Promise<URL> {
  const jar = new Jar()
  let url = authorizationUrl
  let init: RequestInit = {}
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> ?? {}), cookie: jar.header() } })
    jar.take(res)
    init = {}
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url)
      if (next.href.startsWith(callbackPrefix)) return next
      url = next.href
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`the provider answered ${res.status} at ${url}: ${html.slice(0, 500)}`)
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1]
    if (action === undefined || prompt === undefined) throw new Error(`no form at ${url}`)
    const form = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt })
    url = new URL(action.replace(/&amp;/g, '&'), url).href
    init = { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
  }
  throw new Error('too many redirects at the provider')
}

/**
 * An ID token straight from the provider for `client`, as if for another flow: the test's
 * own authorization request (with the nonce it chooses) and its own code redemption.
 */
export async function idTokenFor (tp: TestProvider, opts: { client: TestClient, login: string, nonce: string, redirectUri: string }): Promise<string> {
  const url = new URL(`${tp.issuer}/auth`)
  url.search = new URLSearchParams({ client_id: opts.client.clientId, redirect_uri: opts.redirectUri, response_type: 'code', scope: 'openid email', state: 'test-state', nonce: opts.nonce }).toString()
  const back = await authorizeAtProvider(url.href, opts.login, opts.redirectUri)
  const code = back.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${back.href}`)
  const res = await fetch(`${tp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-passthrough': '1' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: opts.redirectUri, client_id: opts.client.clientId, client_secret: opts.client.clientSecret }).toString()
  })
  const body = await res.json() as { id_token?: string }
  if (body.id_token === undefined) throw new Error(`no id_token: ${JSON.stringify(body)}`)
  return body.id_token
}
