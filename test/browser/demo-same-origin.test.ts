import t from 'tap'
import { chromiumMissing, launchChromium, startApiServer, totp } from './harness.js'
import { demoFlow } from './flow.js'

const missing = chromiumMissing()
if (missing !== false) t.fail(missing)

t.test('the totp helper matches RFC 6238', async t => {
  // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082, of which the last six digits.
  t.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000), '287082')
})

t.test('the demo page served by the API itself drives the whole flow', { skip: missing }, async t => {
  t.setTimeout(300_000)
  const browser = await launchChromium(t)
  const api = await startApiServer(t)
  await demoFlow(t, { name: 'same-origin', browser, api, pageOrigin: api.origin, sameSite: 'Strict' })
})
