import fp from 'fastify-plugin'
import type { PasskeyDeps } from '../src/passkeys/ceremonies.js'
import { PasskeyChallenges, PasskeyStore } from '../src/passkeys/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** everything the functions of src/passkeys/ceremonies.ts take */
    passkeys: PasskeyDeps
  }
}

/** The 5 minutes: long enough for a person at a prompt, short for a stolen challenge. */
const CHALLENGE_TTL_MS = 5 * 60_000

export default fp(async (app) => {
  const c = app.config
  if (!c.rpOrigins.some(o => new URL(o).hostname === c.rpId)) {
    app.log.warn({ rpId: c.rpId }, 'no allowed origin is on RP_ID: passkeys cannot be used (browsers refuse an IP address as RP ID; use localhost)')
  }
  app.decorate('passkeys', {
    store: new PasskeyStore(app.redis, c.redisKeyPrefix),
    challenges: new PasskeyChallenges(app.redis, c.redisKeyPrefix, CHALLENGE_TTL_MS),
    users: app.users,
    rp: { id: c.rpId, name: c.rpName, origins: c.rpOrigins },
    log: app.log.child({ module: 'passkeys' })
  })
}, { name: 'passkeys', dependencies: ['config', 'redis', 'accounts'] })
