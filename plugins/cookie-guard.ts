import fp from 'fastify-plugin'

/**
 * A request carrying the session cookie (or the device cookie) more than once is treated as
 * carrying none. Browsers send every matching cookie, the one with the longer path first,
 * so a cookie planted by a sibling subdomain (Domain=.example.com, Path=/api) would be read
 * before the real one and could fix a session on the victim. Only one of them can be ours,
 * and nothing says which: drop them all. The `__Host-` prefix (see the production checklist)
 * stops the planting itself. Registered before @fastify/cookie parses the header.
 */
export default fp(async (app) => {
  const names = [app.config.sessionCookieName, 'gatehouseDevice']
  app.addHook('onRequest', async (request) => {
    const header = request.raw.headers.cookie
    if (header === undefined) return
    let pairs: string[] | undefined
    for (const name of names) {
      pairs ??= header.split(';')
      const mine = (p: string): boolean => p.trimStart().startsWith(`${name}=`)
      if (pairs.filter(mine).length > 1) {
        pairs = pairs.filter(p => !mine(p))
        request.log.warn({ cookie: name }, 'several cookies of one name: none is used')
      }
    }
    if (pairs !== undefined && pairs.length !== header.split(';').length) request.raw.headers.cookie = pairs.join(';')
  })
}, { name: 'cookie-guard', dependencies: ['config'] })
