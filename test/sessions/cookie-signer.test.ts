import t from 'tap'
import { Signer } from '@fastify/cookie'
import { RememberingSigner } from '../../src/sessions/cookie-signer.js'

const KEY = 'a session secret of at least thirty-two characters'
const OLD = 'the previous secret, still accepted for a while ..'

t.test('answers as @fastify/cookie\'s Signer does, the first time and from memory', async t => {
  const plain = new Signer([KEY, OLD])
  const signer = new RememberingSigner([KEY, OLD])
  const cookie = plain.sign('session-id-1')
  t.equal(signer.sign('session-id-1'), cookie)
  for (let i = 0; i < 3; i++) {
    t.same(signer.unsign(cookie), plain.unsign(cookie), `valid cookie, read ${i + 1}`)
    t.equal(signer.sign('session-id-1'), cookie, 'the id signs to the cookie verified')
  }
  const tampered = cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA')
  for (const bad of [tampered, 'session-id-1', 'session-id-1.', `${cookie}x`, `x${cookie}`, '']) {
    t.same(signer.unsign(bad), plain.unsign(bad), `refused as the Signer refuses: ${JSON.stringify(bad.slice(0, 20))}`)
    t.equal(signer.unsign(bad).valid, false)
  }
})

t.test('a cookie signed with the older key is never remembered: it is renewed each time', async t => {
  const signer = new RememberingSigner([KEY, OLD])
  const old = new Signer(OLD).sign('session-id-2')
  for (let i = 0; i < 2; i++) t.same(signer.unsign(old), { valid: true, renew: true, value: 'session-id-2' })
  t.equal(signer.sign('session-id-2'), new Signer(KEY).sign('session-id-2'), 'signed anew with the current key')
})

t.test('the memory is bounded and starts over when full', async t => {
  const signer = new RememberingSigner(KEY)
  const plain = new Signer(KEY)
  const cookies = Array.from({ length: 5000 }, (_, i) => plain.sign(`id-${i}`))
  t.equal(cookies.filter(c => signer.unsign(c).valid).length, cookies.length, 'past the bound, cookies still verify')
  for (const [i, c] of cookies.entries()) if (i % 500 === 0) t.same(signer.unsign(c), { valid: true, renew: false, value: `id-${i}` })
})
