import { test } from 'tap'
import { parseReturnTo, withError, withMfaToken } from '../../src/oauth/sign-in.js'

const APP = 'https://app.example.com'
const allowed = new Set([APP, 'https://spa.example.net'])

test('returnTo: a path lands on APP_ORIGIN, an absolute URL only on an allowed origin', async (t) => {
  t.equal(parseReturnTo(undefined, APP, allowed), `${APP}/`)
  t.equal(parseReturnTo('/account?tab=1', APP, allowed), `${APP}/account?tab=1`)
  t.equal(parseReturnTo('/a#frag', APP, allowed), `${APP}/a`, 'a fragment is dropped: the MFA token goes there')
  t.equal(parseReturnTo('https://spa.example.net/x', APP, allowed), 'https://spa.example.net/x')
  t.equal(parseReturnTo('HTTPS://SPA.EXAMPLE.NET:443/x', APP, allowed), 'https://spa.example.net/x')
  for (const bad of ['//evil.example', '/\\evil.example', '\\\\evil.example', '/\t/evil.example', '/%0a', 'https://evil.example', 'https://spa.example.net.evil.example/',
    'https://spa.example.net:8443/', 'http://spa.example.net/', 'javascript:alert(1)', 'data:text/html,x', 'https://a:b@spa.example.net/', 'relative/path', ' /x']) {
    t.equal(parseReturnTo(bad, APP, allowed), bad === '/%0a' ? `${APP}/%0a` : null, JSON.stringify(bad))
  }
})

test('errors go in the query, the MFA token in the fragment', async (t) => {
  t.equal(withError(`${APP}/a?x=1`, 'OAUTH_STATE_INVALID'), `${APP}/a?x=1&error=OAUTH_STATE_INVALID`)
  t.equal(withError(`${APP}/a?error=old`, 'OAUTH_FAILED'), `${APP}/a?error=OAUTH_FAILED`)
  t.equal(withMfaToken(`${APP}/a`, 'abc_-1'), `${APP}/a#mfaToken=abc_-1`)
})
