import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { build, cookieOf, type TestContext } from '../helper.js'
import { authorizeAtProvider, startProvider, type TestProvider } from './provider.js'

export const APP = 'http://localhost:3000'
export const CALLBACK = `${APP}/api/auth/oauth/test/callback`

/** The app with the test provider configured as `test`, and the provider. */
export async function buildWithProvider (t: Test, env: Record<string, string> = {}, entries?: (tp: TestProvider) => Array<Record<string, unknown>>): Promise<{ ctx: TestContext, tp: TestProvider }> {
  const tp = await startProvider(t, () => [CALLBACK, `${APP}/api/auth/oauth/other/callback`])
  const ctx = await build(t, { OAUTH_PROVIDERS: JSON.stringify(entries?.(tp) ?? [tp.entry()]), ...env })
  return { ctx, tp }
}

export interface Started { location: URL, flowCookie: string, res: LightMyRequestResponse }

/** GET /oauth/:provider/start; the provider URL and the browser's binding cookie. */
export async function start (ctx: TestContext, query = '?returnTo=/', provider = 'test', cookie?: string): Promise<Started> {
  const res = await ctx.app.inject({ method: 'GET', url: `/api/auth/oauth/${provider}/start${query}`, headers: cookie === undefined ? {} : { cookie } })
  if (res.statusCode !== 302) throw new Error(`start answered ${res.statusCode}: ${res.body}`)
  return { location: new URL(res.headers.location as string), flowCookie: cookieOf(res, 'oauthFlow') ?? cookie ?? '', res }
}

/** Delivers the provider's redirect to the app's callback, as the browser would. */
export async function callback (ctx: TestContext, url: URL, cookie: string): Promise<LightMyRequestResponse> {
  return await ctx.app.inject({ method: 'GET', url: url.pathname + url.search, headers: { cookie } })
}

/** The whole flow for `login` at the provider; the callback's answer. */
export async function signInWith (ctx: TestContext, login: string, query = '?returnTo=/'): Promise<LightMyRequestResponse> {
  const s = await start(ctx, query)
  const back = await authorizeAtProvider(s.location.href, login, CALLBACK)
  return await callback(ctx, back, s.flowCookie)
}

export function errorOf (res: LightMyRequestResponse): string | null {
  return new URL(res.headers.location as string).searchParams.get('error')
}
