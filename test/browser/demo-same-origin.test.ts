import t from 'tap'
import { startApiServer, totpAtStep } from '../helper.js'
import { launchChromium } from './harness.js'
import { demoFlow } from './flow.js'

t.test('the test authenticator matches RFC 6238', async t => {
  // RFC 6238 appendix B, SHA-1, T = 59 s (step 1): 94287082, of which the last six digits.
  t.equal(totpAtStep('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1), '287082')
})

t.test('the demo page served by the API itself drives the whole flow', async t => {
  t.setTimeout(300_000)
  const browser = await launchChromium(t)
  const api = await startApiServer(t)
  await demoFlow(t, { name: 'same-origin', browser, api, pageOrigin: api.origin, sameSite: 'Strict' })
})
