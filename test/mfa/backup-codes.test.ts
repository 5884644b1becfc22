import t from 'tap'
import { Redis } from 'ioredis'
import { BackupCodes, hashBackupCode, newBackupCode, normalizeBackupCode } from '../../src/mfa/backup-codes.js'
import { startTestRedis } from '../helper.js'

t.test('backup codes look like XXXX-XXXX-XXXX-XXXX and normalise forgivingly', async t => {
  const code = newBackupCode()
  t.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/)
  const n = code.replace(/-/g, '')
  t.equal(normalizeBackupCode(code), n)
  t.equal(normalizeBackupCode(code.toLowerCase().replace(/-/g, ' ')), n)
  t.equal(normalizeBackupCode('ABCD-EFGH-JKMN-PQRS'), 'ABCDEFGHJKMNPQRS')
  t.equal(normalizeBackupCode('oIl0-0000-0000-0000'), '0110000000000000', 'look-alikes mapped')
  for (const bad of ['', '123456', 'ABCD-EFGH-JKMN-PQR', 'ABCD-EFGH-JKMN-PQRSX', 'ABCD-EFGH-JKMN-PQR\u00dc']) {
    t.equal(normalizeBackupCode(bad), null, `refused ${JSON.stringify(bad)}`)
  }
  t.not(hashBackupCode(n), n)
})

t.test('a set of ten is stored hashed, each code works once, regenerating replaces the set', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const codes = new BackupCodes(redis, 'gh:')
  const first = await codes.regenerate('u1')
  t.equal(first.length, 10)
  t.equal(new Set(first).size, 10)
  const stored = await redis.smembers('gh:user:{u1}:backup-codes')
  t.equal(stored.length, 10)
  for (const c of first) {
    t.notOk(stored.some(s => s.includes(c) || s.includes(c.replace(/-/g, ''))), 'no code in clear')
  }
  t.equal(await codes.consume('u1', first[0].toLowerCase()), true)
  t.equal(await codes.consume('u1', first[0]), false, 'second use refused')
  t.equal(await codes.consume('u2', first[1]), false, 'another user\'s code refused')
  t.equal(await codes.remaining('u1'), 9)

  const racers = await Promise.all(Array.from({ length: 8 }, async () => await codes.consume('u1', first[1])))
  t.equal(racers.filter(Boolean).length, 1, 'concurrent uses: one wins')

  const second = await codes.regenerate('u1')
  t.equal(await codes.remaining('u1'), 10)
  t.equal(await codes.consume('u1', first[2]), false, 'old set gone')
  t.equal(await codes.consume('u1', second[2]), true)
})
