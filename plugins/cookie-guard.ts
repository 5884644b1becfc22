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
  const mine = (name: string) => (p: string): boolean => p.trimStart().startsWith(`${name}=`)
  // Callback style, and the header split only when a name occurs twice in it: this runs on
  // every request, and almost none carry a duplicate.
  app.addHook('onRequest', function cookieGuard (request, _reply, done) {
    const header = request.raw.headers.cookie
    if (header === undefined || !names.some(name => occursTwice(header, `${name}=`))) {
      done()
      return
    }
    let pairs = header.split(';')
    const count = pairs.length
    for (const name of names) {
      const isMine = mine(name)
      if (pairs.filter(isMine).length > 1) {
        pairs = pairs.filter(p => !isMine(p))
        request.log.warn({ cookie: name }, 'several cookies of one name: none is used')
      }
    }
    if (pairs.length !== count) request.raw.headers.cookie = pairs.join(';')
    done()
  })
}, { name: 'cookie-guard', dependencies: ['config'] })

/** Whether `needle` occurs at least twice in `text` (a cheap superset of "two cookies of that name"). */
function occursTwice (text: string, needle: string): boolean {
  const first = text.indexOf(needle)
  return first >= 0 && text.indexOf(needle, first + needle.length) >= 0
}
