import type { FastifyInstance } from 'fastify'
import { listen, request, type Answer } from '../support/http.js'
import { build, type TestContext } from '../helper.js'

type Tap = Parameters<typeof build>[0]

/** Cheap Argon2 and a proxy in front, so each request can come from an address of its own. */
export const ATTACK_ENV = { ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1', TRUST_PROXY: 'on' }

export interface Target extends TestContext { base: string, send: (ip: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer> }

/** The app listening on a free loopback port; `send` speaks over the real socket from `ip`. */
export async function target (t: Tap, env: Record<string, string> = {}): Promise<Target> {
  const ctx = await build(t, { ...ATTACK_ENV, ...env })
  const base = await listen(ctx.app)
  return {
    ...ctx,
    base,
    send: async (ip, method, path, body, headers = {}) => await request(base, method, path, { body, headers: { 'x-forwarded-for': ip, ...headers } })
  }
}

/** `n` requests in flight at once; resolves with every answer in order. */
export async function burst<T> (n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  return await Promise.all(Array.from({ length: n }, async (_, i) => await fn(i)))
}

export const ip = (i: number): string => `198.51.100.${(i % 250) + 1}`

export type { FastifyInstance }
