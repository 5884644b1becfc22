import fp from 'fastify-plugin'
import fastifyCors from '@fastify/cors'

/**
 * CORS for the configured SPA origins only, with credentials, so a page on its own origin
 * can call the API with the session cookie. Minimal version for the demo page; the
 * cross-site check of state-changing requests (CSRF) belongs with it.
 */
export default fp(async (app) => {
  const origins = app.config.corsOrigins
  await app.register(fastifyCors, {
    origin: origins.length > 0 ? origins : false,
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['content-type', 'x-csrf-token', 'authorization'],
    exposedHeaders: ['retry-after'],
    maxAge: 600
  })
}, { name: 'cors', dependencies: ['config'] })
