import { createServer, type Server } from 'node:http'
import { buildDemoScript, demoCss, demoHtml } from '../src/http/demo-page.js'

export interface SpaServer { origin: string, server: Server, close: () => Promise<void> }

/**
 * The demo page from a second origin, as an SPA on its own domain would be: a static
 * server that knows nothing of sessions, with the API's origin in `<meta name="api-base">`.
 * The API must list this origin in CORS_ORIGINS, and use it as APP_ORIGIN so that emailed
 * links open here.
 */
export async function startSpaServer (options: { apiBase: string, host?: string, port?: number, publicHost?: string }): Promise<SpaServer> {
  const [html, js, css] = await Promise.all([demoHtml(options.apiBase), buildDemoScript(), demoCss()])
  const files: Record<string, [string, string]> = {
    '/': [html, 'text/html; charset=utf-8'],
    '/verify-email': [html, 'text/html; charset=utf-8'],
    '/reset-password': [html, 'text/html; charset=utf-8'],
    '/sign-in': [html, 'text/html; charset=utf-8'],
    '/app.js': [js, 'text/javascript; charset=utf-8'],
    '/app.css': [css, 'text/css; charset=utf-8']
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const file = req.method === 'GET' || req.method === 'HEAD' ? files[path] : undefined
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
    res.end(req.method === 'HEAD' ? undefined : file[0])
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as { port: number }
  return {
    origin: `http://${options.publicHost ?? host}:${port}`,
    server,
    close: async () => { await new Promise<void>(resolve => server.close(() => resolve())) }
  }
}
