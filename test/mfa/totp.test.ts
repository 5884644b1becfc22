import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { CryptoBox, parseKeyRing } from '../../src/crypto/box.js'
import { matchTotp, newTotpSecret, otpauthUri, qrSvg, TotpStore } from '../../src/mfa/totp.js'
import { startTestRedis, base32Decode, hotp, totpAtStep } from '../helper.js'

// RFC 6238 appendix B, SHA-1: the 20-byte ASCII secret "12345678901234567890".
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'

t.test('the test\'s own RFC 6238 code matches the RFC\'s vectors', async t => {
  const key = base32Decode(RFC_SECRET)
  t.equal(key.toString(), '12345678901234567890')
  t.equal(hotp(key, Math.floor(59 / 30), 8), '94287082')
  t.equal(hotp(key, Math.floor(1111111109 / 30), 8), '07081804')
  t.equal(hotp(key, Math.floor(2000000000 / 30), 8), '69279037')
})

t.test('a code is accepted for its step and one step either side, never two or three away', async t => {
  const secret = newTotpSecret()
  t.equal(base32Decode(secret).length, 20, '160-bit secret')
  const now = 1_800_000_015_000
  const step = Math.floor(now / 30_000)
  t.equal(await matchTotp(secret, totpAtStep(secret, step), now), step)
  t.equal(await matchTotp(secret, totpAtStep(secret, step - 1), now), step - 1)
  t.equal(await matchTotp(secret, totpAtStep(secret, step + 1), now), step + 1)
  for (const off of [-3, -2, 2, 3]) {
    const code = totpAtStep(secret, step + off)
    const neighbours = [-1, 0, 1].map(d => totpAtStep(secret, step + d))
    if (neighbours.includes(code)) continue // a 1-in-a-million collision, not a failure
    t.equal(await matchTotp(secret, code, now), null, `offset ${off} refused`)
  }
  t.equal(await matchTotp(RFC_SECRET, '287082', 59_000), 1, 'RFC vector, 6 digits')
  for (const bad of ['', '12345', '1234567', 'abcdef', '１２３４５６', ' 287082']) {
    t.equal(await matchTotp(RFC_SECRET, bad, 59_000), null, `malformed ${JSON.stringify(bad)}`)
  }
})

t.test('the otpauth URI follows the Key URI Format', async t => {
  const uri = otpauthUri('ann+2fa@example.com', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')
  const u = new URL(uri)
  t.equal(u.protocol, 'otpauth:')
  t.equal(u.host, 'totp')
  t.equal(decodeURIComponent(u.pathname), '/Gatehouse:ann+2fa@example.com')
  t.same(Object.fromEntries(u.searchParams), {
    secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    issuer: 'Gatehouse',
    algorithm: 'SHA1',
    digits: '6',
    period: '30'
  })
  t.notOk(/[+ ]/.test(uri.slice('otpauth://totp/'.length).replace(/%2B/g, '')), 'no raw plus or space')
  const svg = await qrSvg(uri)
  t.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.match(svg, /<path/)
})

t.test('the store accepts a step once, refuses older steps after a newer one, across connections', async t => {
  const server = await startTestRedis(t)
  const r1 = new Redis(server.url)
  const r2 = new Redis(server.url)
  t.teardown(() => { r1.disconnect(); r2.disconnect() })
  const ring = parseKeyRing(`k:${randomBytes(32).toString('base64')}`)
  const a = new TotpStore(r1, 'gh:', new CryptoBox(ring))
  const b = new TotpStore(r2, 'gh:', new CryptoBox(ring))
  const secret = newTotpSecret()
  const now = 1_800_000_015_000
  const step = Math.floor(now / 30_000)
  t.equal(await a.check('u1', secret, totpAtStep(secret, step), now), 'ok')
  t.equal(await b.check('u1', secret, totpAtStep(secret, step), now), 'replayed', 'the other connection sees the spent step')
  t.equal(await a.check('u1', secret, totpAtStep(secret, step - 1), now), 'replayed', 'an older step after a newer one')
  t.equal(await b.check('u1', secret, totpAtStep(secret, step + 1), now), 'ok')
  t.equal(await a.check('u2', secret, totpAtStep(secret, step), now), 'ok', 'steps are per user')
  t.equal(await a.check('u3', secret, totpAtStep(secret, step - 3), now), 'invalid')
  const ttl = await r1.ttl('gh:user:{u1}:totp:last')
  t.ok(ttl > 0 && ttl <= 120, 'the replay record expires')

  // concurrent checks of one code: exactly one wins
  const results = await Promise.all([a, b, a, b].map(s => s.check('u4', secret, totpAtStep(secret, step), now)))
  t.equal(results.filter(r => r === 'ok').length, 1)
})

t.test('the stored secret is sealed, bound to its user, and resealed under a new key', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const oldKey = randomBytes(32).toString('base64')
  const store = new TotpStore(redis, 'gh:', new CryptoBox(parseKeyRing(`old:${oldKey}`)))
  const secret = newTotpSecret()
  await store.activate('u1', secret)
  const raw = await redis.hget('gh:user:{u1}:totp', 'secret')
  t.match(raw, /^v1\.old\./)
  t.notOk(raw?.includes(secret))
  t.same(await store.load('u1'), { secret, reseal: false })

  // copied to another user, it does not open
  await redis.hset('gh:user:{u2}:totp', 'secret', raw as string)
  await t.rejects(store.load('u2'))

  const rotated = new TotpStore(redis, 'gh:', new CryptoBox(parseKeyRing(`new:${randomBytes(32).toString('base64')},old:${oldKey}`)))
  t.same(await rotated.load('u1'), { secret, reseal: true })
  const now = Date.now()
  t.equal(await rotated.checkActive('u1', totpAtStep(secret, Math.floor(now / 30_000)), now), 'ok')
  t.match(await redis.hget('gh:user:{u1}:totp', 'secret'), /^v1\.new\./, 'resealed on use')
  t.same(await rotated.load('u1'), { secret, reseal: false })
})
