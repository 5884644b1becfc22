import t from 'tap'
import { request, kill9, redisAt, signedInUser, until, PASSWORD, uniqueEmail, startApiServer } from '../helper.js'

/*
 * redis.conf has appendonly yes + appendfsync always: Redis fsyncs the AOF before it
 * answers a write, so whatever the server acknowledged survives kill -9 of Redis.
 */
t.test('acknowledged registration, verification, login and logout survive kill -9 of Redis', async t => {
  const server = await startApiServer(t)
  let redis = server.redis

  const verified = uniqueEmail('durable')
  const first = await signedInUser(server, verified)
  const out = await request(server.url, 'POST', '/api/auth/logout', { cookie: first.cookie, headers: { 'x-csrf-token': first.csrfToken } })
  t.equal(out.status, 204, 'logout acknowledged')
  const second = await request(server.url, 'POST', '/api/auth/login', { body: { email: verified, password: PASSWORD } })
  t.equal(second.status, 200, 'a second session acknowledged')
  const unverified = uniqueEmail('durable-unverified')
  const reg = await request(server.url, 'POST', '/api/auth/register', { body: { email: unverified, password: PASSWORD } })
  t.equal(reg.status, 202, 'registration acknowledged')

  // The very last acknowledgement above, then kill -9: no shutdown save.
  await kill9(redis)
  redis = await redisAt(t, redis.dir, redis.port)
  await until('ready again', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)

  const unverifiedLogin = await request(server.url, 'POST', '/api/auth/login', { body: { email: unverified, password: PASSWORD } })
  t.equal(unverifiedLogin.status, 403, 'the last registration is still there (an unknown account would get 401)')
  t.equal(unverifiedLogin.body.code, 'EMAIL_NOT_VERIFIED')
  t.equal((await request(server.url, 'GET', '/api/auth/me', { cookie: first.cookie })).status, 401, 'the logged-out session stays logged out')
  const me = await request(server.url, 'GET', '/api/auth/me', { cookie: second.cookie })
  t.equal(me.status, 200, 'the live session is still there')
  t.equal(me.body.user.emailVerified, true, 'the verification is still there')
})

t.test('an acknowledged password change survives kill -9 of Redis', async t => {
  const server = await startApiServer(t)
  let redis = server.redis
  const email = uniqueEmail('change')
  const session = await signedInUser(server, email)
  const newPassword = 'another long passphrase 42'
  const change = await request(server.url, 'POST', '/api/auth/password/change', {
    cookie: session.cookie,
    headers: { 'x-csrf-token': session.csrfToken },
    body: { currentPassword: PASSWORD, newPassword }
  })
  t.equal(change.status, 200, 'password change acknowledged')

  await kill9(redis)
  redis = await redisAt(t, redis.dir, redis.port)
  await until('ready again', async () => (await request(server.url, 'GET', '/health/ready')).status === 200)

  t.equal((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } })).status, 401, 'the old password no longer works')
  t.equal((await request(server.url, 'POST', '/api/auth/login', { body: { email, password: newPassword } })).status, 200, 'the new one does')
})
