import t from 'tap'
import { build, startCluster } from '../helper.js'
import { pageUnderChurn } from '../support/user-seed.js'

// A three-master Cluster, 10,000 users seeded across its slots: a few minutes on a busy machine.
t.setTimeout(900_000)

t.test('paging through 10,000 users on a Redis Cluster lists each exactly once while users are added and deleted', async t => {
  const cluster = await startCluster(t)
  const ctx = await build(t, { REDIS_CLUSTER_NODES: cluster.spec })
  await pageUnderChurn(t, ctx)
})
