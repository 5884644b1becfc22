import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'
import { PROJECT_ROOT } from '../redis/local-server.js'

export const DEMO_ENTRY = join(PROJECT_ROOT, 'public', 'app.ts')
export const PUBLIC_DIR = join(PROJECT_ROOT, 'public')

/** Bundles the page's TypeScript for the browser (esbuild ships with tsx, a dependency). */
export async function buildDemoScript (): Promise<string> {
  const result = await build({
    entryPoints: [DEMO_ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    target: ['es2020'],
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'silent'
  })
  return result.outputFiles[0].text
}

/** The page with the API's origin in `<meta name="api-base">` (empty: the page's own origin). */
export async function demoHtml (apiBase = ''): Promise<string> {
  const html = await readFile(join(PUBLIC_DIR, 'index.html'), 'utf8')
  const escaped = apiBase.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
  return html.replace('<meta name="api-base" content="">', `<meta name="api-base" content="${escaped}">`)
}

export async function demoCss (): Promise<string> {
  return await readFile(join(PUBLIC_DIR, 'app.css'), 'utf8')
}
