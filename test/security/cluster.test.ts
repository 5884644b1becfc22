import t from 'tap'
import { Cluster } from 'ioredis'
import { PASSWORD, startCluster, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { burst, ip, target } from './attack.js'

/*
 * The races of registration.test.ts and backoff.test.ts on a three-master Redis Cluster, where
 * the username claim is a step of its own (its key's slot is the username's) before the one
 * script that writes the email claim and the user in the claim's slot.
 */
t.test('on a Redis Cluster: racing registrations make one account each, back-off holds, and nothing is left behind', async t => {
  const cluster = await startCluster(t)
  const s = await target(t, { REDIS_CLUSTER_NODES: cluster.spec, LOGIN_FREE_FAILURES: '5', LOGIN_BACKOFF_BASE: '30', LOGIN_BACKOFF_MAX: '900' })
  t.ok(s.app.redis instanceof Cluster, 'the server talks to the cluster')
  const probe = new Cluster(cluster.spec.split(',').map(hp => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })))
  t.teardown(() => probe.disconnect())

  // Sixteen new addresses race for one username, from sixteen client addresses.
  const username = `cl_${process.pid}`
  const emails = Array.from({ length: 16 }, () => uniqueEmail('cl-name'))
  const answers = await burst(16, async i => await s.send(ip(i), 'POST', '/api/auth/register', { email: emails[i], password: PASSWORD, username }))
  t.same(answers.map(a => a.status), Array(16).fill(202), 'the same answer for everyone')
  const holder = await probe.get(`gh:username:${username}`)
  t.ok(holder !== null, 'the name is held')
  const claimed = (await Promise.all(emails.map(async e => await probe.get(`gh:email:${e}`)))).filter(x => x !== null)
  t.same(claimed, [holder], 'only the winner claimed its address; every loser released everything')
  t.equal(await probe.exists(`gh:user:{${holder}}`), 1, 'by a user that exists')

  // Twenty registrations of one address race: one account, its claim in its user's slot.
  const email = uniqueEmail('cl-race')
  const racers = await burst(20, async i => await s.send(ip(i + 20), 'POST', '/api/auth/register', { email, password: `racer number ${i} password` }))
  t.same(racers.map(a => a.status), Array(20).fill(202))
  const id = await probe.get(`gh:email:${email}`)
  t.equal(await probe.hget(`gh:user:{${id}}`, 'email'), email, 'one account holds the address')

  // A verified account under a burst of wrong passwords: only the free failures are checked.
  const owner = uniqueEmail('cl-owner')
  await s.send(ip(60), 'POST', '/api/auth/register', { email: owner, password: PASSWORD })
  await s.send(ip(60), 'POST', '/api/auth/verify-email', { token: await tokenFromOutbox(s.outbox, owner, 'verify-email') })
  const guesses = await burst(20, async i => (await s.send(ip(i + 70), 'POST', '/api/auth/login', { email: owner, password: `wrong guess ${i}` })).status)
  t.equal(guesses.filter(x => x === 401).length, 5, `five checked (${guesses.join(' ')})`)
  t.equal(guesses.filter(x => x === 429).length, 15, 'fifteen refused')
})
