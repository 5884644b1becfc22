import t from 'tap'
import { PASSWORD, tokenFromOutbox, outboxMessages, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'
import { keySlot } from '../../src/redis/key-slot.js'
import { readOutbox } from '../../src/mail/outbox.js'

const ATTACKER_PASSWORD = 'attacker chose this one'
const OWNER_PASSWORD = 'the owner typed this'

t.test('account pre-hijacking: a second registration of an unverified address verifies no one\'s password', async t => {
  const s = await target(t)
  const email = uniqueEmail('victim')
  // The attacker registers the victim's address first and never verifies.
  t.equal((await s.send(ip(1), 'POST', '/api/auth/register', { email, password: ATTACKER_PASSWORD })).status, 202)
  const attackerLink = await tokenFromOutbox(s.outbox, email, 'verify-email')
  // Later the owner registers, and clicks the newest mail.
  t.equal((await s.send(ip(2), 'POST', '/api/auth/register', { email, password: OWNER_PASSWORD })).status, 202)
  const ownerLink = await tokenFromOutbox(s.outbox, email, 'verify-email')
  t.not(ownerLink, attackerLink)
  t.equal((await s.send(ip(1), 'POST', '/api/auth/verify-email', { token: attackerLink })).body.code, 'INVALID_TOKEN', 'the older link died with the second registration')
  const verified = await s.send(ip(2), 'POST', '/api/auth/verify-email', { token: ownerLink })
  t.equal(verified.status, 200)
  t.equal(verified.body.user.emailVerified, true)

  const asAttacker = await s.send(ip(1), 'POST', '/api/auth/login', { email, password: ATTACKER_PASSWORD })
  t.equal(asAttacker.status, 401, 'the attacker\'s password does not open the verified account')
  t.equal(asAttacker.body.code, 'INVALID_CREDENTIALS')
  // Neither registration can be told to be the owner's, so the owner chooses a password by mail.
  const choose = await tokenFromOutbox(s.outbox, email, 'reset-password')
  const mails = await outboxMessages(s.outbox, email)
  t.match(mails.at(-1)?.subject, /Choose your password/)
  t.equal((await s.send(ip(2), 'POST', '/api/auth/password/reset', { token: choose, password: 'owner picks a new one' })).status, 200)
  t.equal((await s.send(ip(2), 'POST', '/api/auth/login', { email, password: 'owner picks a new one' })).status, 200, 'the owner is in')
  t.equal((await s.send(ip(1), 'POST', '/api/auth/login', { email, password: ATTACKER_PASSWORD })).status, 401, 'the attacker is still out')
})

t.test('a single registration keeps its password when its own link is followed', async t => {
  const s = await target(t)
  const email = uniqueEmail('alone')
  await s.send(ip(3), 'POST', '/api/auth/register', { email, password: OWNER_PASSWORD })
  await s.send(ip(3), 'POST', '/api/auth/verify-email', { token: await tokenFromOutbox(s.outbox, email, 'verify-email') })
  t.equal((await s.send(ip(3), 'POST', '/api/auth/login', { email, password: OWNER_PASSWORD })).status, 200)
})

t.test('twenty registrations of one address in flight from twenty addresses make one account, and none of their passwords survives verification', async t => {
  const s = await target(t)
  const email = uniqueEmail('race')
  const answers = await burst(20, async i => await s.send(ip(i), 'POST', '/api/auth/register', { email, password: `racer number ${i} password` }))
  t.same(answers.map(a => a.status), Array(20).fill(202))
  const id = await s.redis.get(`gh:email:${email}`)
  t.ok(id !== null, 'the address is claimed')
  t.equal(await s.redis.hget(`gh:user:{${id}}`, 'email'), email, 'by a user that exists')
  t.equal((await s.redis.zrangebylex('gh:users:index', '[e:', '(e;')).length, 1, 'one account in the index of users')
  // The mails were written in whatever order the racers finished: try every link.
  const links = (await readOutbox(s.outbox)).filter(m => m.to.includes(email)).map(m => /verify-email\?token=([A-Za-z0-9_-]+)/.exec(m.body)?.[1]).filter(x => x !== undefined)
  t.ok(links.length >= 20, `${links.length} verification mails`)
  const verified = await burst(links.length, async i => await s.send(ip(99), 'POST', '/api/auth/verify-email', { token: links[i] }))
  t.equal(verified.filter(v => v.status === 200).length, 1, 'exactly one link is live')
  const logins = await burst(20, async i => await s.send(ip(i), 'POST', '/api/auth/login', { email, password: `racer number ${i} password` }))
  t.same(logins.map(l => l.status), Array(20).fill(401), 'no racer\'s password was kept')
})

t.test('many registrations racing for one username: one account holds it, the others leave nothing behind', async t => {
  const s = await target(t)
  const username = `taken_${process.pid}`
  const emails = Array.from({ length: 16 }, () => uniqueEmail('name'))
  const answers = await burst(16, async i => await s.send(ip(i), 'POST', '/api/auth/register', { email: emails[i], password: PASSWORD, username }))
  t.same(answers.map(a => a.status), Array(16).fill(202), 'the same answer for everyone')
  const holder = await s.redis.get(`gh:username:${username}`)
  t.ok(holder !== null)
  const claimed = (await Promise.all(emails.map(async e => await s.redis.get(`gh:email:${e}`)))).filter(x => x !== null)
  t.same(claimed, [holder], 'only the winner claimed its address; every loser released everything')
  t.equal(await s.redis.exists(`gh:user:{${holder}}`), 1)
})

t.test('the email claim and the new user are one write: the id is chosen in the claim\'s cluster slot', async t => {
  const s = await target(t)
  for (let i = 0; i < 5; i++) {
    const email = uniqueEmail('slot')
    await s.send(ip(i), 'POST', '/api/auth/register', { email, password: PASSWORD })
    const id = String(await s.redis.get(`gh:email:${email}`))
    t.equal(keySlot(`gh:user:{${id}}`), keySlot(`gh:email:${email}`), `user ${i} shares its claim's slot`)
    t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'still a v4 UUID')
  }
})

t.test('an unverified registration expires with its verification window, freeing the address and the username', async t => {
  const s = await target(t, { VERIFY_TOKEN_TTL: '2' })
  const email = uniqueEmail('squat')
  const username = `squat_${process.pid}`
  await s.send(ip(1), 'POST', '/api/auth/register', { email, password: ATTACKER_PASSWORD, username })
  const id = String(await s.redis.get(`gh:email:${email}`))
  for (const key of [`gh:email:${email}`, `gh:user:{${id}}`, `gh:username:${username}`]) {
    const ttl = await s.redis.pttl(key)
    t.ok(ttl > 0 && ttl <= 2000, `${key} expires (${ttl} ms)`)
  }
  await new Promise(resolve => setTimeout(resolve, 2300))
  t.equal(await s.redis.exists(`gh:email:${email}`, `gh:user:{${id}}`, `gh:username:${username}`), 0, 'all gone')
  await s.send(ip(2), 'POST', '/api/auth/register', { email, password: OWNER_PASSWORD, username })
  const fresh = await s.redis.get(`gh:email:${email}`)
  t.not(fresh, id, 'the owner registered the address afresh')
  t.equal(await s.redis.get(`gh:username:${username}`), fresh, 'and the username')
  await s.send(ip(2), 'POST', '/api/auth/verify-email', { token: await tokenFromOutbox(s.outbox, email, 'verify-email') })
  for (const key of [`gh:email:${email}`, `gh:user:{${fresh}}`, `gh:username:${username}`]) {
    t.equal(await s.redis.pttl(key), -1, `${key} no longer expires once verified`)
  }
  t.equal((await s.send(ip(2), 'POST', '/api/auth/login', { username, password: OWNER_PASSWORD })).status, 200)
})

t.test('a username claim left by a registration that never completed does not hold the name', async t => {
  const s = await target(t)
  const username = `ghost_${process.pid}`
  // What a crash between the username claim and the account write leaves behind.
  await s.redis.set(`gh:username:${username}`, '00000000-0000-4000-8000-000000000000')
  const email = uniqueEmail('ghost')
  await s.send(ip(1), 'POST', '/api/auth/register', { email, password: PASSWORD, username })
  const id = await s.redis.get(`gh:email:${email}`)
  t.ok(id !== null)
  t.equal(await s.redis.get(`gh:username:${username}`), id)
})

t.test('a verification link survives a failed write: Redis refusing writes (maxmemory) answers 503 and the link still works after', async t => {
  const s = await target(t)
  const email = uniqueEmail('oom')
  await s.send(ip(1), 'POST', '/api/auth/register', { email, password: OWNER_PASSWORD })
  const token = await tokenFromOutbox(s.outbox, email, 'verify-email')
  await s.redis.config('SET', 'maxmemory', '1')
  t.teardown(async () => { await s.redis.config('SET', 'maxmemory', '0') })
  const refused = await s.send(ip(1), 'POST', '/api/auth/verify-email', { token })
  await s.redis.config('SET', 'maxmemory', '0')
  t.equal(refused.status, 503)
  t.equal(refused.body.code, 'SERVICE_UNAVAILABLE')
  t.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After')
  const ok = await s.send(ip(1), 'POST', '/api/auth/verify-email', { token })
  t.equal(ok.status, 200, 'the link was not spent by the failed attempt')
  t.equal((await s.send(ip(1), 'POST', '/api/auth/login', { email, password: OWNER_PASSWORD })).status, 200)
})

t.test('a reset link is spent by the write itself: sixteen uses in flight set one password, and a refused write leaves it working', async t => {
  const s = await target(t)
  const email = uniqueEmail('reset')
  await s.send(ip(1), 'POST', '/api/auth/register', { email, password: OWNER_PASSWORD })
  await s.send(ip(1), 'POST', '/api/auth/verify-email', { token: await tokenFromOutbox(s.outbox, email, 'verify-email') })
  await s.send(ip(1), 'POST', '/api/auth/password/forgot', { email })
  const token = await tokenFromOutbox(s.outbox, email, 'reset-password')

  await s.redis.config('SET', 'maxmemory', '1')
  t.teardown(async () => { await s.redis.config('SET', 'maxmemory', '0') })
  const refused = await s.send(ip(2), 'POST', '/api/auth/password/reset', { token, password: 'never written password' })
  await s.redis.config('SET', 'maxmemory', '0')
  t.equal(refused.status, 503, 'a full store refuses the write')

  const answers = await burst(16, async i => await s.send(ip(i), 'POST', '/api/auth/password/reset', { token, password: `racing reset number ${i}` }))
  const winners = answers.flatMap((a, i) => a.status === 200 ? [i] : [])
  t.equal(winners.length, 1, 'exactly one use of the link wrote')
  t.ok(answers.every(a => a.status === 200 || a.body.code === 'INVALID_TOKEN'), 'the others were told the link is spent')
  const logins = await burst(16, async i => (await s.send(ip(i), 'POST', '/api/auth/login', { email, password: `racing reset number ${i}` })).status)
  t.same(logins.flatMap((status, i) => status === 200 ? [i] : []), winners, 'the winner\'s password is the one that works')
  t.equal((await s.send(ip(1), 'POST', '/api/auth/login', { email, password: 'never written password' })).status, 401)
})
