import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PROJECT_ROOT } from '../redis/local-server.js'

export const DEMO_ENTRY = join(PROJECT_ROOT, 'public', 'app.ts')
export const PUBLIC_DIR = join(PROJECT_ROOT, 'public')

const here = fileURLToPath(import.meta.url)
/**
 * True when this module runs compiled (dist/src/http/demo-page.js): `npm run build` has
 * then bundled the page beside it, and the server must not need esbuild (a build tool,
 * a devDependency) at run time.
 */
const COMPILED = here.endsWith('.js')
/** Where `npm run build` writes the page's bundle: dist/public/app.js. */
export const BUNDLED_SCRIPT = join(dirname(here), '..', '..', 'public', 'app.js')

/** Bundles the page's TypeScript for the browser with esbuild (a build-time dependency). */
export async function buildDemoScript (): Promise<string> {
  // Loaded only here: the compiled server never reaches this, so production installs
  // without devDependencies never load esbuild.
  const { build } = await import('esbuild')
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

/**
 * The page's script: the bundle `npm run build` made when running compiled, otherwise
 * (tsx: `npm run dev`, the tests) bundled from public/app.ts now, so it is never older
 * than its source.
 */
export async function demoScript (): Promise<string> {
  if (!COMPILED) return await buildDemoScript()
  try {
    return await readFile(BUNDLED_SCRIPT, 'utf8')
  } catch (err) {
    throw new Error(`the demo page's bundle ${BUNDLED_SCRIPT} is missing: run npm run build (${(err as Error).message})`)
  }
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
