import type { FastifyBaseLogger } from 'fastify'

const pending = new Set<Promise<void>>()

/**
 * Runs work the HTTP answer must not wait for. Used where waiting would tell an attacker
 * something: "send a new link" does real work (a token, an email) only for an address
 * that has an account, so if the answer waited for it, its timing would say so. Failures
 * are logged (without the message contents), never thrown. `drainBackground` (an onClose
 * hook of the app) lets it finish before Redis and the mailer close.
 */
export function afterAnswer (log: FastifyBaseLogger, what: string, work: () => Promise<unknown>): void {
  const job = new Promise<void>(resolve => {
    // setImmediate: not even the synchronous start of the work (building a MIME message)
    // runs before the answer is written.
    setImmediate(() => {
      work().catch((err: unknown) => {
        log.error({ err: { message: (err as Error).message, name: (err as Error).name }, what }, 'background work failed')
      }).finally(resolve)
    })
  })
  pending.add(job)
  job.finally(() => pending.delete(job)).catch(() => {})
}

export async function drainBackground (): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending])
}
