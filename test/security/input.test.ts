import t from 'tap'
import { PASSWORD, uniqueEmail } from '../helper.js'
import { startSmtpSink } from '../support/smtp-sink.js'
import { ip, target } from './attack.js'
import { isMailbox } from '../../src/accounts/users.js'

const REFUSED = [
  'v,att@evil.example',
  'victim@example.com,att@evil.example',
  'att@evil.example;v@example.com',
  '"v,att"@evil.example',
  'Victim <att@evil.example>',
  'v<att@evil.example>',
  'v:att@evil.example',
  'v(att)@evil.example',
  'a@b@evil.example',
  'a..b@example.com',
  '.a@example.com',
  'a.@example.com',
  'a@[127.0.0.1]',
  'a@127.0.0.1',
  'a@-example.com',
  'a@example-.com',
  'a@example..com',
  'a@localhost',
  'a\u200b@example.com',
  'a@exa\u200dmple.com',
  'a\u202e@example.com',
  'a\u0000@example.com',
  'a\ufe0f@example.com'
]

/** For test names: TAP output must not carry the invisible characters themselves. */
const shown = (v: string): string => [...v].map(c => /[\x20-\x7e]/.test(c) ? c : `U+${c.codePointAt(0)!.toString(16).toUpperCase()}`).join('')

const ACCEPTED = [
  "o'brien+tag@example.co.uk",
  'first.last@sub.example.com',
  "a!#$%&'*+/=?^_`{|}~-z@example.com",
  'x@b.io'
]

t.test('only an RFC 5321 mailbox is accepted: every trick that names another recipient is a 400', async t => {
  const s = await target(t)
  for (const email of REFUSED) {
    const r = await s.send(ip(1), 'POST', '/api/auth/register', { email, password: PASSWORD })
    t.equal(r.status, 400, shown(email))
    t.ok(r.body.fieldErrors?.email !== undefined || r.body.code === 'VALIDATION_FAILED', 'on the email field')
  }
  t.equal(await s.redis.zcard('gh:users:index'), 0, 'nothing was stored')
  const resend = await s.send(ip(1), 'POST', '/api/auth/verify-email/resend', { email: 'v,att@evil.example' })
  t.equal(resend.status, 400, 'resend refuses it too')
  const forgot = await s.send(ip(1), 'POST', '/api/auth/password/forgot', { email: 'v,att@evil.example' })
  t.equal(forgot.status, 400, 'and the forgot-password form')
})

t.test('an accepted address is mailed exactly: the SMTP envelope names the stored mailbox and nothing else', async t => {
  const sink = await startSmtpSink(t, { disabledCommands: ['STARTTLS'] })
  const s = await target(t, { SMTP_URL: sink.url, MAIL_RETRY_DELAY_MS: '0' })
  for (const email of ACCEPTED) {
    t.ok(isMailbox(email), email)
    t.equal((await s.send(ip(2), 'POST', '/api/auth/register', { email, password: PASSWORD })).status, 202)
  }
  const until = Date.now() + 10_000
  while (sink.mails.length < ACCEPTED.length && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 50))
  t.same(sink.mails.map(m => m.to).sort(), ACCEPTED.map(e => [e.toLowerCase()]).sort(), 'one recipient per mail, the stored address')
})

t.test('names refuse control and invisible characters as the email field does', async t => {
  const s = await target(t)
  const bad = ['Ada\u0000', 'Ada\u200b', '\u202eadA', 'Ada\u2028Lovelace', 'Ada\u00ad', '\u3164', 'Ada\ufe0f', 'Ada\u{E0041}', '\u2800']
  for (const [field, value] of bad.flatMap(v => [['firstName', v], ['lastName', v]])) {
    const r = await s.send(ip(3), 'POST', '/api/auth/register', { email: uniqueEmail('names'), password: PASSWORD, [field]: value })
    t.equal(r.status, 400, `${field} ${shown(value)}`)
    t.ok(r.body.fieldErrors?.[field], `the error names ${field}`)
  }
  for (const username of ['ada\u200b', 'ad\u0000a', 'ada\u202e']) {
    const r = await s.send(ip(3), 'POST', '/api/auth/register', { email: uniqueEmail('names'), password: PASSWORD, username })
    t.equal(r.status, 400, `username ${shown(username)}`)
  }
  const ok = await s.send(ip(3), 'POST', '/api/auth/register', { email: uniqueEmail('names'), password: PASSWORD, firstName: 'Zoë', lastName: 'Ångström-O\'Neil 山田' })
  t.equal(ok.status, 202, 'real names in any script pass')
})
