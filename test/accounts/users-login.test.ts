import t from 'tap'
import { Redis } from 'ioredis'
import { startTestRedis } from '../helper.js'
import { UserRepository } from '../../src/accounts/users.js'

t.test('findByLoginId finds what findByLogin finds, also when the claim moved in between', async t => {
  const server = await startTestRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => redis.disconnect())
  const users = new UserRepository(redis, 't:')
  const a = await users.create({ email: 'Ada@Example.com', username: 'ada', passwordHash: 'h' })
  const b = await users.create({ email: 'bob@example.com', username: 'bob', passwordHash: 'h' })
  if (!a.ok || !b.ok) throw new Error('could not create the users')
  for (const identifier of ['ada@example.com', ' ADA@example.COM ', 'ada', 'ADA']) {
    const id = await users.idByLogin(identifier)
    t.equal(id, a.user.id, `${identifier} names Ada`)
    t.equal((await users.findByLoginId(identifier, id!))?.id, a.user.id)
    t.equal((await users.findByLogin(identifier.trim()))?.id, a.user.id)
  }
  // Bob's id, resolved a moment before Bob gave the name up and Ada took it: the record
  // read by id no longer answers to it, so the lookup by the identifier decides.
  const bobId = (await users.idByLogin('bob'))!
  t.equal(await users.setUsername(b.user, null), 'ok')
  t.equal(await users.setUsername((await users.findById(a.user.id))!, 'bob'), 'ok')
  t.equal((await users.findByLoginId('bob', bobId))?.id, a.user.id, 'the account that has the name now')
  t.equal((await users.findByLoginId('nobody', bobId)), null, 'an identifier nobody has finds nobody')
})
