import { request as httpRequest, type Agent } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent'
import type { SecurityEvent } from '../events/catalogue.js'
import type { WebhookEndpoint } from './endpoints.js'

/**
 * The body a receiver gets, per the Standard Webhooks conventions: `type`, `timestamp` (ISO
 * 8601, when the event happened) and `data`, the event itself. Built once when the event is
 * queued, so every attempt signs the same bytes.
 */
export function payloadOf (event: SecurityEvent): string {
  const { id, userId, at, ip, userAgent } = event
  const data: Record<string, unknown> = { id, userId, at: new Date(at).toISOString() }
  if (ip !== undefined) data.ip = ip
  if (userAgent !== undefined) data.userAgent = userAgent
  for (const [key, value] of Object.entries(event.data)) if (!(key in data)) data[key] = value
  return JSON.stringify({ type: event.type, timestamp: new Date(at).toISOString(), data })
}

/** How one attempt ended: `delivered` is a 2xx answer, the rest are failures to retry. */
export type AttemptOutcome = 'delivered' | 'failed' | 'timeout' | 'refused' | 'aborted'

export interface Attempt {
  outcome: AttemptOutcome
  /** the HTTP status, or why there was none; for logs, never sent anywhere */
  detail: string
}

/**
 * The agents every attempt goes through. They check the address a name resolved to when
 * the connection is made, not the name at boot: a DNS answer that changes to a loopback or
 * private address (DNS rebinding) is refused on that very connection.
 */
export function deliveryAgents (allowPrivate: boolean): { http: Agent, https: Agent } {
  const options = { allowPrivateIPAddress: allowPrivate, keepAlive: true, maxSockets: 64 }
  return { http: new RequestFilteringHttpAgent(options), https: new RequestFilteringHttpsAgent(options) }
}

const USER_AGENT = 'Gatehouse-Webhooks/1'

/**
 * One signed POST of `body` to `endpoint`, with `webhook-id` (the event's id, the same on
 * every attempt) and a fresh `webhook-timestamp`, so a retry a day later still passes the
 * receiver's replay check. Redirects are not followed (a 3xx is a failure): a receiver
 * cannot send the signed request elsewhere.
 */
export async function attempt (endpoint: WebhookEndpoint, msg: { eventId: string, body: string }, opts: { agents: { http: Agent, https: Agent }, timeoutMs: number, signal: AbortSignal }): Promise<Attempt> {
  const now = new Date()
  const url = new URL(endpoint.url)
  const https = url.protocol === 'https:'
  const timeout = AbortSignal.timeout(opts.timeoutMs)
  const signal = AbortSignal.any([opts.signal, timeout])
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': msg.eventId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': endpoint.signer.sign(msg.eventId, now, msg.body)
  }
  return await new Promise<Attempt>(resolve => {
    const req = (https ? httpsRequest : httpRequest)(url, { method: 'POST', headers, agent: https ? opts.agents.https : opts.agents.http, signal }, res => {
      // The answer's body is not read beyond draining it: only the status counts.
      res.resume()
      res.on('error', () => {})
      const status = res.statusCode ?? 0
      resolve({ outcome: status >= 200 && status < 300 ? 'delivered' : 'failed', detail: String(status) })
    })
    req.on('error', (err: Error & { code?: string }) => {
      if (opts.signal.aborted) resolve({ outcome: 'aborted', detail: 'shutdown' })
      else if (timeout.aborted) resolve({ outcome: 'timeout', detail: `no answer in ${opts.timeoutMs} ms` })
      else if (/is not allowed/.test(err.message)) resolve({ outcome: 'refused', detail: 'the address is loopback, private or link-local' })
      else resolve({ outcome: 'failed', detail: err.code ?? 'network error' })
    })
    req.end(msg.body)
  })
}
