import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { Webhook } from 'standardwebhooks'

/** A fresh Standard Webhooks secret: whsec_ + base64 of 32 random bytes. */
export function webhookSecret (): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

export interface ReceivedWebhook {
  /** the request's headers (the webhook-* ones are single strings) */
  headers: Record<string, string>
  body: string
  /** the payload, when the signature and timestamp verified with the standardwebhooks package */
  payload?: { type: string, timestamp: string, data: Record<string, unknown> & { id: string, userId: string, at: string } }
  /** why verification failed */
  error?: string
  /** the status answered */
  status: number
  /** when the request had arrived whole, epoch ms */
  receivedAt: number
}

/** What the receiver answers a request: a status, or `hang` (never answers; the request times out). */
export type Reply = number | 'hang'

export interface WebhookReceiver {
  url: string
  secret: string
  /** every request so far, in arrival order, each verified */
  received: ReceivedWebhook[]
  /** the verified requests answered 2xx: what counts as delivered */
  delivered: () => ReceivedWebhook[]
  /** decides each answer (default 204); sees the verified request */
  reply: (request: ReceivedWebhook) => Reply | Promise<Reply>
  /** resolves when `probe` holds of what was received, polling; rejects after `timeoutMs` */
  until: (what: string, probe: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number) => Promise<void>
}

/**
 * The tests' own webhook receiver: a real HTTP server that verifies every request with the
 * standardwebhooks package (signature, and the timestamp within its five-minute tolerance),
 * as a receiver following the specification would. Closed at teardown.
 */
export async function startReceiver (t: Pick<Test, 'teardown'>, secret = webhookSecret()): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret)
  const hanging = new Set<ServerResponse>()
  const receiver: WebhookReceiver = {
    url: '',
    secret,
    received: [],
    delivered: () => receiver.received.filter(r => r.payload !== undefined && r.status >= 200 && r.status < 300),
    reply: () => 204,
    until: async (what, probe, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs
      while (!probe(receiver.received)) {
        if (Date.now() > deadline) throw new Error(`receiver: timed out waiting for ${what} (${receiver.received.length} received)`)
        await new Promise(resolve => setTimeout(resolve, 25))
      }
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]))
      const record: ReceivedWebhook = { headers, body, status: 0, receivedAt: Date.now() }
      try {
        record.payload = verifier.verify(body, headers) as ReceivedWebhook['payload']
      } catch (err) {
        record.error = (err as Error).message
      }
      const answer = async (): Promise<void> => {
        const answer = record.error !== undefined ? 400 : await receiver.reply(record)
        if (answer === 'hang') {
          record.status = -1
          receiver.received.push(record)
          hanging.add(res)
          return
        }
        record.status = answer
        receiver.received.push(record)
        res.writeHead(answer).end()
      }
      answer().catch(() => res.destroy())
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  t.teardown(async () => {
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return receiver
}

/** WEBHOOKS for one receiver. */
export function webhooksEnv (receivers: Array<{ url: string, secret: string, events?: string[] }>): string {
  return JSON.stringify(receivers.map(r => ({ url: r.url, secret: r.secret, events: r.events ?? ['*'] })))
}
