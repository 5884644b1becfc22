import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { demoCss, demoHtml, demoScript } from '../src/http/demo-page.js'

/**
 * The demo page at `/`, and at the paths the emails link to, which the page handles
 * itself. The script is the bundle `npm run build` made, or under tsx the bundle of
 * public/app.ts made on first request; either is kept in memory. Plain routes: three
 * files need no static-file plugin.
 */
export default fp(async (app) => {
  let script: Promise<string> | undefined
  const hide = { schema: { hide: true } }

  const page = async (_request: unknown, reply: FastifyReply): Promise<string> => {
    // The links carry a token in the query string: no caching, no referrer.
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
    return await demoHtml()
  }
  app.get('/', hide, page)
  app.get('/verify-email', hide, page)
  app.get('/reset-password', hide, page)
  app.get('/sign-in', hide, page)
  app.get('/confirm-email', hide, page)
  app.get('/cancel-email-change', hide, page)

  app.get('/app.js', hide, async (_request, reply) => {
    script ??= demoScript().catch((err: unknown) => {
      script = undefined
      throw err
    })
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache')
    return await script
  })
  app.get('/app.css', hide, async (_request, reply) => {
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache')
    return await demoCss()
  })
}, { name: 'demo' })
