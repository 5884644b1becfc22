import t from 'tap'
import { PASSWORD, outboxMessages, signedInUser, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'

const LIMIT = { EMAIL_ADDRESS_RATE_LIMIT: '3' }

async function resetMails (outbox: string, email: string): Promise<number> {
  // Mail is handed off after the answer: give it a moment.
  await new Promise(resolve => setTimeout(resolve, 300))
  return (await outboxMessages(outbox, email)).filter(m => /reset-password\?token=/.test(m.raw.replace(/=\r?\n/g, ''))).length
}

t.test('strangers spending an address\'s mail budget do not block its owner\'s password reset', async t => {
  const s = await target(t, LIMIT)
  const owner = await signedInUser(s, uniqueEmail('recover'))
  // Resends and registrations from many addresses use up the verification budget.
  const spam = await burst(10, async i => await s.send(ip(i), 'POST', i % 2 === 0 ? '/api/auth/verify-email/resend' : '/api/auth/register', i % 2 === 0 ? { email: owner.email } : { email: owner.email, password: PASSWORD }))
  t.ok(spam.some(a => a.status === 429), 'the verification budget ran out')
  // Reset requests from one stranger use up that stranger's budget for the address.
  const theirs = await burst(6, async () => (await s.send('203.0.113.66', 'POST', '/api/auth/password/forgot', { email: owner.email })).status)
  t.same(theirs.filter(x => x === 429).length, 3, 'the stranger is limited')
  const mine = await s.send('192.0.2.10', 'POST', '/api/auth/password/forgot', { email: owner.email })
  t.equal(mine.status, 202, 'the owner\'s own request is accepted')
  t.equal(await resetMails(s.outbox, owner.email), 4, 'and mailed: three for the stranger, one for the owner')
})

t.test('a stranger with many addresses hits the per-address cap, but a client that signed in before still recovers', async t => {
  const s = await target(t, LIMIT)
  const owner = await signedInUser(s, uniqueEmail('capped'))
  const login = await fetch(`${s.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: owner.email, password: PASSWORD }) })
  const device = login.headers.getSetCookie().find(c => c.startsWith('gatehouseDevice='))!.split(';')[0]
  const spam = await burst(20, async i => (await s.send(ip(i), 'POST', '/api/auth/password/forgot', { email: owner.email })).status)
  t.equal(spam.filter(x => x === 202).length, 12, 'at most four budgets\' worth of mail reaches the mailbox')
  t.equal((await s.send('192.0.2.20', 'POST', '/api/auth/password/forgot', { email: owner.email })).status, 429, 'a fresh address without history is capped')
  // A refused request issues no link, so the newest of the stranger's mails still works for
  // the owner, whose mailbox they went to (for RESET_TOKEN_TTL after it was sent).
  // The racers' mails were written in whatever order they finished: the owner tries them.
  await new Promise(resolve => setTimeout(resolve, 300))
  const links = (await outboxMessages(s.outbox, owner.email)).map(m => /reset-password\?token=([A-Za-z0-9_-]+)/.exec(m.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[1]).filter(x => x !== undefined)
  const tried: number[] = []
  for (const token of links) tried.push((await s.send('192.0.2.21', 'POST', '/api/auth/password/reset', { token, password: 'the owner recovered anyway' })).status)
  t.equal(tried.filter(x => x === 200).length, 1, `the newest link the stranger caused lets the owner in (${links.length} links)`)
  t.equal((await s.send('192.0.2.21', 'POST', '/api/auth/login', { email: owner.email, password: 'the owner recovered anyway' })).status, 200)
  const mine = await s.send('192.0.2.20', 'POST', '/api/auth/password/forgot', { email: owner.email }, { cookie: device })
  t.equal(mine.status, 202, 'the owner\'s device is not')
})
