/*
 * Serves the demo page from a second origin, as a cross-origin SPA:
 *   SPA_PORT=5173 API_BASE=http://localhost:3000 npm run demo:spa
 * and start the API with
 *   APP_ORIGIN=http://127.0.0.1:5173 CORS_ORIGINS=http://127.0.0.1:5173 COOKIE_SAMESITE=None npm start
 * (then open http://127.0.0.1:5173/ and keep the API on `localhost`, the one http host on
 * which browsers accept a Secure cookie).
 */
import { startSpaServer } from './spa-server.js'

const port = Number(process.env.SPA_PORT ?? 5173)
const apiBase = process.env.API_BASE ?? 'http://localhost:3000'
const spa = await startSpaServer({ apiBase, port, host: process.env.SPA_HOST ?? '127.0.0.1' })
process.stdout.write(`demo SPA on ${spa.origin}, calling the API at ${apiBase}\n`)
const stop = (): void => { spa.close().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
