import t from 'tap'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, PASSWORD, signedInUser } from '../helper.js'
import { startRedis } from '../../src/redis/local-server.js'

t.test('health and Redis failures', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-health-'))
  let redis = await startRedis({ dir })
  t.teardown(async () => { await redis.stop() })
  const ctx = await build(t, {}, redis)
  const { app } = ctx

  t.test('live and ready answer 200 while Redis is up', async t => {
    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200)
    const ready = await app.inject({ url: '/health/ready' })
    t.equal(ready.statusCode, 200)
    t.same(ready.json(), { status: 'ok', redis: 'ready' })
  })

  t.test('with Redis gone, requests get a fast 503 and the process recovers by itself', async t => {
    const u = await signedInUser(ctx)
    ctx.redis.disconnect()
    await redis.stop()
    const started = Date.now()
    const me = await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: u.email, password: PASSWORD } })
    const ready = await app.inject({ url: '/health/ready' })
    t.ok(Date.now() - started < 5_000, 'answers come within the command timeout, not after minutes')
    for (const res of [me, login]) {
      t.equal(res.statusCode, 503)
      t.equal(res.json().code, 'SERVICE_UNAVAILABLE')
      t.equal(res.headers['retry-after'], '1')
      t.notMatch(res.body, /ECONNREFUSED|Stream|ioredis|offline/i, 'no Redis message leaks')
    }
    t.equal(ready.statusCode, 503)
    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'live stays 200')

    redis = await startRedis({ dir, port: redis.port })
    let status = 0
    for (let i = 0; i < 100 && status !== 200; i++) {
      await sleep(100)
      status = (await app.inject({ url: '/health/ready' })).statusCode
    }
    t.equal(status, 200, 'ready again without a restart')
    const back = await app.inject({ url: '/api/auth/me', headers: { cookie: u.cookie } })
    t.equal(back.statusCode, 200, 'the session survived in the AOF and works again')
  })
})
