import type { FastifyInstance } from 'fastify'
import { build, type TestContext } from './helper.js'

type Tap = Parameters<typeof build>[0]

/**
 * helper.build(), also naming the instance the app decorates (`app.mailer`, `app.users`):
 * build() registers the app through fastify-plugin, so that is the root instance itself.
 */
export async function buildWithInstance (t: Tap, env: Record<string, string> = {}): Promise<TestContext & { instance: FastifyInstance }> {
  const ctx = await build(t, env)
  return { ...ctx, instance: ctx.app }
}
