import fp from 'fastify-plugin'
import { PasswordHasher } from '../src/accounts/passwords.js'

declare module 'fastify' {
  interface FastifyInstance { hasher: PasswordHasher }
}

export default fp(async (app) => {
  const { argon2MemoryKib, argon2Iterations, argon2Parallelism } = app.config
  app.decorate('hasher', new PasswordHasher({ memoryCost: argon2MemoryKib, timeCost: argon2Iterations, parallelism: argon2Parallelism }))
}, { name: 'password-hasher', dependencies: ['config'] })
