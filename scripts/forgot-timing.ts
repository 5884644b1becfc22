/*
 * Measures how long POST /password/forgot takes for a known and for an unknown address,
 * interleaved, against a real Redis and a real SMTP sink (or the outbox with --outbox).
 *   npx tsx scripts/forgot-timing.ts [rounds] [--outbox]
 * Prints medians and 90th percentiles in ms; the two should be close.
 */
import { spawn } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { build } from '../test/helper.js'

const rounds = Number(process.argv.find(a => /^\d+$/.test(a)) ?? 300)
const outbox = process.argv.includes('--outbox')
const cleanups: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }

// The SMTP sink runs in its own process, as a real server would: its TLS and parsing
// work must not be charged to the requests being measured.
const sinkProcess = spawn(process.execPath, ['-e', `
  const { SMTPServer } = require('smtp-server')
  let n = 0
  const s = new SMTPServer({ authOptional: true, logger: false, onData (stream, session, cb) { stream.resume(); stream.on('end', () => { n++; cb() }) } })
  s.listen(0, '127.0.0.1', () => console.log(s.server.address().port))
  process.on('SIGTERM', () => { console.log('received ' + n); process.exit(0) })
`], { stdio: ['ignore', 'pipe', 'inherit'] })
const [portLine] = await onceEvent(sinkProcess.stdout, 'data') as [Buffer]
cleanups.push(() => sinkProcess.kill('SIGTERM'))
const sink = { url: `smtp://127.0.0.1:${portLine.toString().trim()}/?tls.rejectUnauthorized=false`, mails: { length: NaN } }
const ctx = await build(t, outbox ? {} : { SMTP_URL: sink.url })
const email = 'known@example.com'
await ctx.app.users.create({ email, passwordHash: await ctx.app.hasher.hash('x'.repeat(12)), emailVerified: true })

async function once (address: string): Promise<number> {
  const start = process.hrtime.bigint()
  const res = await ctx.app.inject({ method: 'POST', url: '/api/auth/password/forgot', payload: { email: address } })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (res.statusCode !== 202) throw new Error(`forgot answered ${res.statusCode}`)
  return ms
}

const known: number[] = []
const unknown: number[] = []
for (let i = 0; i < 20; i++) { await once(email); await once(`warm${i}@example.com`) }
for (let i = 0; i < rounds; i++) {
  if (i % 2 === 0) { known.push(await once(email)); unknown.push(await once(`nobody${i}@example.com`)) } else { unknown.push(await once(`nobody${i}@example.com`)); known.push(await once(email)) }
}
await ctx.app.mailer.drain()
const q = (xs: number[], p: number): string => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))].toFixed(2)
console.log(`mode=${outbox ? 'outbox' : 'smtp'} rounds=${rounds}`)
console.log(`known   p50=${q(known, 0.5)} p90=${q(known, 0.9)}`)
console.log(`unknown p50=${q(unknown, 0.5)} p90=${q(unknown, 0.9)}`)
for (const fn of cleanups.reverse()) await fn()
