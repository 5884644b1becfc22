import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

/**
 * Helmet for a JSON API that may also serve a same-origin demo page: scripts, styles and
 * fetches only from this origin, images also as data: URLs (the 2FA QR code), no frames,
 * no plugins, no forms to elsewhere. API answers are never cached: they carry sessions,
 * tokens and personal data.
 */
export default fp(async (app) => {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    // Other sites' pages must not embed or read our responses without CORS.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: app.config.hsts ? { maxAge: 31536000, includeSubDomains: true } : false
  })
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })
}, { name: 'security-headers', dependencies: ['config'] })
