import type { FastifyInstance } from 'fastify'

/** Listens on a free loopback port (the app is already built); returns the base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return `http://127.0.0.1:${address.port}`
}

export interface HttpAnswer { status: number, headers: Headers, body: any, text: string, cookie?: string }

/** fetch over the real socket; JSON in and out, the session cookie picked out of Set-Cookie. */
export async function http (base: string, method: string, path: string, opts: { body?: unknown, raw?: string | Uint8Array<ArrayBuffer>, headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers }
  let body: string | Uint8Array<ArrayBuffer> | undefined
  if (opts.raw !== undefined) body = opts.raw
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(base + path, { method, headers, body })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  const setCookie = res.headers.getSetCookie().find(c => c.startsWith('sessionId=') && !c.startsWith('sessionId=;'))
  return { status: res.status, headers: res.headers, body: parsed, text, cookie: setCookie?.split(';')[0] }
}
