import fp from 'fastify-plugin'
import cors from '@fastify/cors'

/**
 * CORS for the configured SPA origins only, with credentials. Any other origin gets no
 * Access-Control-Allow-* headers at all, so its browser refuses the response (and, for a
 * preflight, never sends the request).
 */
export default fp(async (app) => {
  const origins = new Set(app.config.corsOrigins)
  await app.register(cors, {
    origin: (origin, cb) => { cb(null, origin !== undefined && origins.has(origin)) },
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-CSRF-Token', 'Authorization'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
    // A malformed preflight from an allowed origin gets the plain 204, not a text/plain 400.
    strictPreflight: false
  })
}, { name: 'cors', dependencies: ['config'] })
