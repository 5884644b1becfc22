import t from 'tap'
import { Cluster } from 'ioredis'
import { kill9, redisAt, redisCli, startCluster, until, build, cookieOf, PASSWORD, signedInUser, tokenFromOutbox, uniqueEmail } from '../helper.js'
import { endAllSessions } from '../../src/sessions/end-all.js'
import { decodeSession, encodeSession } from '../../src/sessions/record.js'

t.test('the whole flow runs on a three-master Redis Cluster, with one slot per user', async t => {
  const cluster = await startCluster(t)
  const ctx = await build(t, { REDIS_CLUSTER_NODES: cluster.spec })
  t.ok(ctx.app.redis instanceof Cluster, 'the app talks to the cluster through ioredis Cluster')
  const probe = new Cluster(cluster.spec.split(',').map(hp => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })))
  t.teardown(() => probe.disconnect())

  const ready = await ctx.app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200, '/health/ready')

  // Register, resend, verify: email index, user hash, token keys in several slots.
  const email = uniqueEmail('cluster')
  const reg = await ctx.app.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password: PASSWORD } })
  t.equal(reg.statusCode, 202, 'register')
  const resend = await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email/resend', payload: { email } })
  t.equal(resend.statusCode, 202, 'resend verification')
  const token = await tokenFromOutbox(ctx.outbox, email, 'verify-email')
  const verify = await ctx.app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } })
  t.equal(verify.statusCode, 200, 'verify')

  // Login (rate limiter's Lua on the cluster), /me (session read-and-slide Lua), logout.
  const login = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: PASSWORD } })
  t.equal(login.statusCode, 200, 'login')
  const cookie = cookieOf(login) as string
  const me = await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })
  t.equal(me.statusCode, 200, '/me')
  const userId: string = me.json().user.id

  // Make the session look a day old; the read script slides its expiry back on the cluster.
  const [session] = await ctx.app.sessionStore.listForUser(userId)
  const sessionKey = ctx.app.sessionStore.keyOfDigest(session.digest)
  await probe.pexpire(sessionKey, ctx.config.sessionTtlMs - 86_400_000)
  const record = decodeSession((await probe.get(sessionKey))!, ctx.config.sessionAbsoluteTtlMs)
  await probe.set(sessionKey, encodeSession({ ...record, lastSeenAt: Date.now() - 86_400_000 }), 'KEEPTTL')
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 200)
  t.ok(await probe.pttl(sessionKey) > ctx.config.sessionTtlMs - 3_600_000, 'the read script slid the expiry (its SET ran on the cluster)')

  const metrics = await ctx.app.inject({ url: '/metrics' })
  t.match(metrics.body, /^gatehouse_active_sessions 1$/m, 'the session census works on the cluster')

  const out = await ctx.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie, 'x-csrf-token': login.json().csrfToken } })
  t.equal(out.statusCode, 204, 'logout')
  t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode, 401, 'logged out')

  // Several sessions: list them and end them all (session keys are in other slots than the index).
  const cookies: string[] = []
  for (let i = 0; i < 3; i++) {
    const r = await ctx.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: email, password: PASSWORD } })
    t.equal(r.statusCode, 200)
    cookies.push(cookieOf(r) as string)
  }
  t.equal((await ctx.app.sessionStore.listForUser(userId)).length, 3, 'three sessions listed')
  t.equal((await ctx.app.sessionStore.indexed(userId)).length, 3, 'indexed in the user\'s hash')
  // A bearer login too: its family and index are more keys of the user.
  const bearer = await ctx.app.inject({ method: 'POST', url: '/api/auth/token', payload: { email, password: PASSWORD } })
  t.equal(bearer.statusCode, 200)

  // Every key that names the user carries the {<id>} hash tag: one slot, across all masters.
  const keys: string[] = []
  for (const node of probe.nodes('master')) {
    let cursor = '0'
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `*${userId}*`, 'COUNT', 1000)
      keys.push(...batch)
      cursor = next
    } while (cursor !== '0')
  }
  t.ok(keys.length >= 2, `the user has several keys (${keys.join(', ')})`)
  t.ok(keys.every(k => k.includes(`{${userId}}`)), 'each with the hash tag')
  const slots = new Set(await Promise.all(keys.map(async k => await probe.cluster('KEYSLOT', k))))
  t.equal(slots.size, 1, 'all in one slot')

  t.equal(await endAllSessions(ctx.app.sessions, userId), 4, 'endAll ends the three sessions and the token family')
  for (const c of cookies) t.equal((await ctx.app.inject({ url: '/api/auth/me', headers: { cookie: c } })).statusCode, 401)
  t.equal(await ctx.app.sessionStore.countActive(), 0)
  t.equal((await ctx.app.users.list()).filter(u => u.email === email).length, 1, 'users.list on the cluster')

  // The keys are really spread over the masters (the test would prove little otherwise).
  const perNode = await Promise.all(probe.nodes('master').map(async n => await n.dbsize()))
  t.ok(perNode.filter(n => n > 0).length >= 2, `keys on several masters (${perNode.join('/')})`)
})

t.test('a cluster master killed and restarted: 503 while it is gone, the same session works once it is back', async t => {
  const cluster = await startCluster(t)
  const ctx = await build(t, { REDIS_CLUSTER_NODES: cluster.spec })
  const server = ctx.app
  const { cookie, userId } = await signedInUser(ctx, uniqueEmail('cluster-down'))

  // Kill the master that holds this session's key.
  const [session] = await server.sessionStore.listForUser(userId)
  const slot = Number(redisCli(['-p', String(cluster.nodes[0].port), 'CLUSTER', 'KEYSLOT', server.sessionStore.keyOfDigest(session.digest)]).trim())
  const owner = cluster.nodes.find(n => redisCli(['-p', String(n.port), 'CLUSTER', 'NODES']).split('\n').some(line => {
    if (!line.includes('myself')) return false
    return line.split(' ').slice(8).some(range => {
      const [from, to] = range.split('-').map(Number)
      return slot >= from && slot <= (to ?? from)
    })
  }))
  t.ok(owner !== undefined, 'found the master of the session slot')
  const dead = owner!
  await kill9(dead)

  const down = await server.inject({ url: '/api/auth/me', headers: { cookie } })
  t.equal(down.statusCode, 503, 'the session cannot be read: 503')
  t.equal(down.json().code, 'SERVICE_UNAVAILABLE')
  t.equal(down.headers['retry-after'], '1')

  await redisAt(t, dead.dir, dead.port, cluster.args[cluster.nodes.indexOf(dead)])
  await until('cluster_state:ok again', async () => cluster.nodes.every(n => redisCli(['-p', String(n.port), 'CLUSTER', 'INFO']).includes('cluster_state:ok')), 60_000)
  await until('the session is served again', async () => (await server.inject({ url: '/api/auth/me', headers: { cookie } })).statusCode === 200, 30_000)
  t.pass('the same session works again without rebuilding the app')
})
