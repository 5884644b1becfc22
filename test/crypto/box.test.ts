import t from 'tap'
import { randomBytes } from 'node:crypto'
import { CryptoBox, CryptoBoxError, keyFingerprint, parseKeyRing } from '../../src/crypto/box.js'
import { ConfigError, loadConfig } from '../../src/config.js'

function caught (fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected to throw')
}

const k1 = randomBytes(32)
const k2 = randomBytes(32)

t.test('a sealed value opens with the same key and associated data, and shows no plaintext', async t => {
  const box = new CryptoBox(parseKeyRing(`a:${k1.toString('base64')}`))
  const sealed = box.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'user-1')
  t.match(sealed, /^v1\.a\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
  t.notOk(sealed.includes('JBSWY3DP'))
  t.equal(box.open(sealed, 'user-1'), 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')
  t.not(box.seal('same', 'user-1'), box.seal('same', 'user-1'), 'a fresh IV every time')
})

t.test('an altered value, another user\'s associated data or an unknown key id do not open', async t => {
  const box = new CryptoBox(parseKeyRing(`a:${k1.toString('hex')}`))
  const sealed = box.seal('secret', 'user-1')
  t.throws(() => box.open(sealed, 'user-2'), CryptoBoxError)
  const parts = sealed.split('.')
  const ct = Buffer.from(parts[3], 'base64url')
  ct[0] ^= 1
  t.throws(() => box.open([...parts.slice(0, 3), ct.toString('base64url'), parts[4]].join('.'), 'user-1'), CryptoBoxError)
  t.throws(() => box.open(['v1', 'a', parts[2], parts[3], Buffer.alloc(16).toString('base64url')].join('.'), 'user-1'), CryptoBoxError)
  t.throws(() => box.open(sealed.replace('v1.a.', 'v1.b.'), 'user-1'), /no key with id b/)
  t.throws(() => box.open('plain text', 'user-1'), CryptoBoxError)
})

t.test('after a rotation old values still open, new ones use the new key, and old ones ask to be resealed', async t => {
  const before = new CryptoBox(parseKeyRing(`old:${k1.toString('base64')}`))
  const sealedOld = before.seal('secret', 'u')
  const after = new CryptoBox(parseKeyRing(`new:${k2.toString('base64')},old:${k1.toString('base64')}`))
  t.equal(after.currentKid, 'new')
  t.equal(after.open(sealedOld, 'u'), 'secret')
  t.ok(after.needsReseal(sealedOld))
  const sealedNew = after.seal('secret', 'u')
  t.equal(after.kidOf(sealedNew), 'new')
  t.notOk(after.needsReseal(sealedNew))
  t.throws(() => before.open(sealedNew, 'u'), /no key with id new/)
})

t.test('a key without an id gets a stable fingerprint id, so it can join a ring later', async t => {
  const ring = parseKeyRing(k1.toString('base64url'))
  t.equal(ring.currentKid, keyFingerprint(k1))
  const sealed = new CryptoBox(ring).seal('x', 'u')
  const rotated = new CryptoBox(parseKeyRing(`k2:${k2.toString('hex')},${k1.toString('hex')}`))
  t.equal(rotated.open(sealed, 'u'), 'x')
})

t.test('bad key rings are refused without echoing key material', async t => {
  const short = randomBytes(16).toString('base64')
  for (const bad of [short, 'a:' + short, `a:${k1.toString('hex')},a:${k2.toString('hex')}`, `bad id:${k1.toString('hex')}`, `${k1.toString('hex')},`, 'zz'.repeat(32)]) {
    const err = caught(() => parseKeyRing(bad))
    t.notOk(err.message.includes(short), 'no key in the message')
    t.notOk(err.message.includes(k1.toString('hex')))
  }
})

t.test('configuration: DATA_ENCRYPTION_KEY is required in production and checked without being echoed', async t => {
  const base = { REDIS_URL: 'redis://127.0.0.1:1', SESSION_SECRET: 'x'.repeat(40) }
  t.throws(() => loadConfig({ ...base, NODE_ENV: 'production' }), /DATA_ENCRYPTION_KEY is required/)
  const bad = randomBytes(20).toString('hex')
  const err = caught(() => loadConfig({ ...base, DATA_ENCRYPTION_KEY: bad }))
  t.ok(err instanceof ConfigError)
  t.match(err.message, /^invalid configuration: DATA_ENCRYPTION_KEY /)
  t.notOk(err.message.includes(bad))
  const prod = loadConfig({ ...base, NODE_ENV: 'production', DATA_ENCRYPTION_KEY: `k1:${k1.toString('base64')}` })
  t.equal(prod.dataKeys.currentKid, 'k1')
  const dev = loadConfig({ ...base })
  t.match(dev.dataKeys.currentKid, /^dev-/, 'development generates a key')
  t.equal(dev.dataKeys.keys.get(dev.dataKeys.currentKid)?.length, 32)
  t.equal(dev.mfaChallengeTtlMs, 300_000)
})
