import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import ipaddr from 'ipaddr.js'
import { Webhook } from 'standardwebhooks'
import { EVENT_TYPES, type EventType } from '../events/catalogue.js'
import { readJsonArray } from '../config-json.js'

/** One entry of WEBHOOKS as written. */
const EndpointEntrySchema = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  secret: Type.String({ pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', maxLength: 1024 }),
  events: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: EVENT_TYPES.length + 1 })
}, { additionalProperties: false })

export interface WebhookEndpoint {
  /** stable while the URL stays the same: names the endpoint's Redis keys and its log lines */
  id: string
  url: string
  /** the Standard Webhooks signer for this endpoint's secret */
  signer: Webhook
  /** the event types it receives; `null` for all of them (`["*"]`) */
  events: ReadonlySet<EventType> | null
}

/** Whether an endpoint wants events of `type`. */
export function wants (endpoint: WebhookEndpoint, type: EventType): boolean {
  return endpoint.events === null || endpoint.events.has(type)
}

/** An IP literal that is not a public unicast address (loopback, private, link-local, mapped...). */
function privateLiteral (hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) === 0) return false
  return ipaddr.parse(host).range() !== 'unicast'
}

/**
 * Turns WEBHOOKS (JSON, or `@path` to a JSON file) into endpoints; throws one line that
 * never echoes a secret. `allowPrivate` is false in production unless
 * WEBHOOK_ALLOW_PRIVATE is set: then a URL naming a private or loopback address is refused
 * here, and names that resolve to one are refused at each delivery (src/webhooks/deliver.ts).
 */
export function parseEndpoints (raw: string | undefined, opts: { allowPrivate: boolean }): WebhookEndpoint[] {
  if (raw === undefined) return []
  const parsed = readJsonArray(raw, ' (an array of { url, secret, events }, or @path to a file holding one)')
  const seen = new Set<string>()
  return parsed.map((entry, i) => {
    const where = `entry ${i}`
    if (!Value.Check(EndpointEntrySchema, entry)) {
      const error = Value.Errors(EndpointEntrySchema, entry).First()
      const field = error?.path.replace(/^\//, '') ?? ''
      if (field.startsWith('secret')) throw new Error(`${where}: secret must be a Standard Webhooks secret, whsec_ followed by base64`)
      throw new Error(`${where}: ${field === '' ? 'must be an object' : field} ${error?.message.toLowerCase() ?? 'is invalid'} (fields: url, secret, events)`)
    }
    let url: URL
    try {
      url = new URL(entry.url)
    } catch {
      throw new Error(`${where}: url is not a URL`)
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${where}: url must be http or https`)
    if (url.username !== '' || url.password !== '') throw new Error(`${where}: url must not hold credentials (the signature authenticates Gatehouse)`)
    if (!opts.allowPrivate && privateLiteral(url.hostname)) {
      throw new Error(`${where}: url ${url.origin} is a loopback or private address, refused in production (WEBHOOK_ALLOW_PRIVATE=true allows it)`)
    }
    if (seen.has(url.href)) throw new Error(`${where}: url ${url.origin}${url.pathname} is listed twice`)
    seen.add(url.href)
    let signer: Webhook
    try {
      signer = new Webhook(entry.secret)
    } catch {
      throw new Error(`${where}: secret must be a Standard Webhooks secret, whsec_ followed by base64`)
    }
    if (Buffer.from(entry.secret.slice('whsec_'.length), 'base64').length < 24) {
      throw new Error(`${where}: secret is too short (at least 24 bytes of key, as whsec_ + base64)`)
    }
    let events: Set<EventType> | null = null
    if (entry.events.includes('*')) {
      if (entry.events.length > 1) throw new Error(`${where}: events is either ["*"] or a list of event types`)
    } else {
      const unknown = entry.events.find(e => !(EVENT_TYPES as readonly string[]).includes(e))
      if (unknown !== undefined) throw new Error(`${where}: events has an unknown event type ${JSON.stringify(unknown.slice(0, 64))}`)
      events = new Set(entry.events as EventType[])
    }
    const id = createHash('sha256').update(url.href).digest('hex').slice(0, 16)
    return { id, url: url.href, signer, events }
  })
}
