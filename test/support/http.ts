import type { FastifyInstance } from 'fastify'

/*
 * The one HTTP client of the tests over a real socket (inject covers the rest). curl stays
 * only where curl itself is the subject (the README walk-throughs, the cookie-jar test).
 */

/** Listens on a free loopback port (the app is already built); returns the base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return `http://127.0.0.1:${address.port}`
}

export interface Answer {
  status: number
  headers: Headers
  body: any
  text: string
  /** the session cookie the answer set (`sessionId=...`), not a clearing one */
  cookie?: string
  ms: number
}

export interface RequestOptions {
  body?: unknown
  raw?: string | Uint8Array<ArrayBuffer>
  cookie?: string
  headers?: Record<string, string>
  timeoutMs?: number
}

/**
 * One request with a hard time bound, so a hang becomes a test failure rather than a stuck
 * test: JSON in and out, the session cookie picked out of Set-Cookie.
 */
export async function request (base: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  let body: string | Uint8Array<ArrayBuffer> | undefined
  if (options.raw !== undefined) body = options.raw
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  if (options.cookie !== undefined) headers.cookie = options.cookie
  const started = performance.now()
  const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) })
  const text = await res.text()
  const ms = performance.now() - started
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  const set = res.headers.getSetCookie().find(c => c.startsWith('sessionId=') && !c.startsWith('sessionId=;'))
  return { status: res.status, headers: res.headers, body: parsed, text, cookie: set?.split(';')[0], ms }
}

/** A cookie jar over `request`: what a browser or `curl -c/-b` would hold between requests. */
export class CookieJar {
  cookie = ''
  constructor (readonly base: string) {}

  async send (method: string, path: string, options: Omit<RequestOptions, 'cookie'> = {}): Promise<Answer> {
    const res = await request(this.base, method, path, { ...options, cookie: this.cookie === '' ? undefined : this.cookie })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      if (!pair.startsWith('sessionId=')) continue
      this.cookie = /max-age=0|expires=thu, 01 jan 1970/i.test(c) ? '' : pair
    }
    return res
  }
}
