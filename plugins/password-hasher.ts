import fp from 'fastify-plugin'
import { PasswordHasher } from '../src/accounts/passwords.js'

declare module 'fastify' {
  interface FastifyInstance { hasher: PasswordHasher }
}

export default fp(async (app) => {
  const { ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM } = app.config
  app.decorate('hasher', new PasswordHasher({ memoryCost: ARGON2_MEMORY_KIB, timeCost: ARGON2_ITERATIONS, parallelism: ARGON2_PARALLELISM }))
}, { name: 'password-hasher', dependencies: ['config'] })
