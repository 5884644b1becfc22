/*
 * The Argon2 ceiling of scenario 2, as its own process so that it runs with the same libuv
 * pool (UV_THREADPOOL_SIZE) as the server: argon2.verify of HASH at CONCURRENCY for SECONDS.
 * Prints { rps, total } as JSON.
 */
import argon2 from 'argon2'

const hash = process.env.HASH ?? ''
const password = process.env.PASSWORD ?? ''
const concurrency = Number(process.env.CONCURRENCY ?? 1)
const seconds = Number(process.env.SECONDS ?? 5)

const end = Date.now() + seconds * 1000
let total = 0
const worker = async (): Promise<void> => {
  while (Date.now() < end) {
    if (!await argon2.verify(hash, password)) throw new Error('argon2 ceiling: wrong hash')
    total++
  }
}
const start = Date.now()
await Promise.all(Array.from({ length: concurrency }, worker))
process.stdout.write(JSON.stringify({ rps: Math.round(total / ((Date.now() - start) / 1000) * 10) / 10, total }) + '\n')
