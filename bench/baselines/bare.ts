/*
 * Baseline: bare Fastify answering the same JSON as GET /me, without cookie, session or
 * Redis. The ceiling of any route on this machine.
 */
import Fastify from 'fastify'
import { ME_BODY, PORT, stopOnSigterm } from './common.js'

const app = Fastify({ logger: false })
app.get('/api/auth/me', async () => ME_BODY)
await app.listen({ port: PORT, host: '127.0.0.1' })
stopOnSigterm(async () => await app.close())
