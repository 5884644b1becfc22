/*
 * The baseline of scenario 1: a bare Fastify route answering the same JSON as GET /me,
 * without cookie, session or Redis. Run as its own process, like the real server.
 * PORT and BODY_FILE (the JSON to answer) come from the bench.
 */
import Fastify from 'fastify'
import { readFile } from 'node:fs/promises'

const body = JSON.parse(await readFile(process.env.BODY_FILE ?? '', 'utf8')) as unknown
const app = Fastify({ logger: false })
app.get('/api/auth/me', async () => body)
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
