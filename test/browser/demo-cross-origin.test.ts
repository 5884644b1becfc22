import t from 'tap'
import { freePort } from '../../src/redis/local-server.js'
import { startSpaServer } from '../../scripts/spa-server.js'
import { startApiServer } from '../helper.js'
import { launchChromium } from './harness.js'
import { demoFlow } from './flow.js'

/*
 * An SPA on a site of its own: the page is served from http://127.0.0.1:<port> and calls
 * the API at http://localhost:<port>, a different site, so the session cookie must be
 * SameSite=None, which requires Secure. Chromium accepts a Secure cookie over plain http
 * only from `localhost` (a potentially trustworthy origin), so the API is the one on
 * localhost.
 */
t.test('the demo page on a second origin drives the whole flow with CORS and SameSite=None', async t => {
  t.setTimeout(300_000)
  const browser = await launchChromium(t)
  const apiPort = await freePort()
  const apiOrigin = `http://localhost:${apiPort}`
  const spa = await startSpaServer({ apiBase: apiOrigin, host: '127.0.0.1' })
  t.teardown(spa.close)
  const api = await startApiServer(t, {
    port: apiPort,
    publicHost: 'localhost',
    env: { APP_ORIGIN: spa.origin, CORS_ORIGINS: spa.origin, COOKIE_SAMESITE: 'None' }
  })

  t.test('the API answers CORS only for the configured origin', async t => {
    const allowed = await fetch(`http://127.0.0.1:${apiPort}/api/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: spa.origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf-token' }
    })
    t.equal(allowed.headers.get('access-control-allow-origin'), spa.origin)
    t.equal(allowed.headers.get('access-control-allow-credentials'), 'true')
    t.match(allowed.headers.get('access-control-allow-headers') ?? '', /x-csrf-token/i)
    const other = await fetch(`http://127.0.0.1:${apiPort}/api/auth/me`, { headers: { origin: 'http://evil.example' } })
    t.equal(other.headers.get('access-control-allow-origin'), null, 'another origin gets no CORS grant')
  })

  await demoFlow(t, { name: 'cross-origin', browser, api, pageOrigin: spa.origin, sameSite: 'None' })
})
