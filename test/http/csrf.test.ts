import t from 'tap'
import { canonicalOrigin, csrfVerdict } from '../../src/http/csrf.js'

const SPA = 'https://spa.example.com'
const EVIL = 'https://evil.example'

t.test('csrfVerdict follows the contract', async t => {
  const allowed = new Set(['http://localhost:3000', SPA])
  t.equal(csrfVerdict({}, allowed, undefined), 'pass', 'no Origin, no Sec-Fetch-Site: curl')
  t.equal(csrfVerdict({ origin: 'http://localhost:3000' }, allowed, undefined), 'pass')
  t.equal(csrfVerdict({ origin: 'HTTP://LOCALHOST:3000' }, allowed, undefined), 'pass', 'compared as origins')
  t.equal(csrfVerdict({ origin: SPA, secFetchSite: 'cross-site' }, allowed, undefined), 'pass', 'Origin decides when present')
  t.equal(csrfVerdict({ origin: EVIL }, allowed, undefined), 'foreign-origin')
  t.equal(csrfVerdict({ origin: 'null' }, allowed, undefined), 'foreign-origin', 'opaque origins (sandboxed frames, data: URLs)')
  t.equal(csrfVerdict({ origin: 'http://localhost:3000.evil.example' }, allowed, undefined), 'foreign-origin')
  t.equal(csrfVerdict({ origin: 'not a url' }, allowed, undefined), 'foreign-origin')
  t.equal(csrfVerdict({ secFetchSite: 'same-origin' }, allowed, undefined), 'pass')
  t.equal(csrfVerdict({ secFetchSite: 'cross-site' }, allowed, undefined), 'cross-site')
  t.equal(csrfVerdict({ secFetchSite: 'same-site' }, allowed, undefined), 'cross-site')
  t.equal(csrfVerdict({ origin: SPA }, allowed, 'tok'), 'missing-token')
  t.equal(csrfVerdict({ origin: SPA, token: 'tok2' }, allowed, 'tok'), 'bad-token')
  t.equal(csrfVerdict({ origin: SPA, token: 'tok' }, allowed, 'tok'), 'pass')
})

t.test('origins are compared in the form browsers send', async t => {
  t.equal(canonicalOrigin('HTTPS://Example.COM:443/path?q'), 'https://example.com')
  t.equal(canonicalOrigin('http://example.com:8080'), 'http://example.com:8080')
  t.equal(canonicalOrigin('null'), null)
  t.equal(canonicalOrigin('data:text/html,x'), null)
  t.equal(canonicalOrigin(''), null)
})
