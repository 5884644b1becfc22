import t from 'tap'
import { startApiServer } from '../helper.js'
import { launchChromium, screenshotOnFailure } from './harness.js'

t.test('/docs renders every documented operation in a browser, under the server\'s own headers', async t => {
  t.setTimeout(180_000)
  const browser = await launchChromium(t)
  const api = await startApiServer(t)
  const doc = await (await fetch(`${api.url}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> }
  const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0)
  const authPaths = Object.keys(doc.paths).filter(p => p.startsWith('/api/auth/'))

  const page = await browser.newPage()
  screenshotOnFailure(t, () => page, 'docs')
  const problems: string[] = []
  page.on('console', m => { if (m.type() === 'error') problems.push(m.text()) })
  page.on('pageerror', e => problems.push(e.message))
  await page.goto(`${api.origin}/docs`)
  await page.locator('.opblock').first().waitFor()
  t.equal(await page.locator('.opblock').count(), operations, `all ${operations} operations are listed`)
  const shown = await page.locator('.opblock-summary-path').allTextContents()
  for (const p of authPaths) t.ok(shown.some(s => s.replace(/\u200b/g, '') === p), `${p} is shown`)

  // Open /login: its error codes are on the page.
  await page.locator('.opblock-summary-path', { hasText: /^\/api\/auth\/login$/ }).first().click()
  await page.locator('.opblock.is-open .responses-table').waitFor()
  const text = await page.locator('.opblock.is-open').innerText()
  for (const code of ['INVALID_CREDENTIALS', 'EMAIL_NOT_VERIFIED', 'RATE_LIMITED']) t.match(text, code, `/login lists ${code}`)
  t.same(problems, [], 'no script or CSP errors')
})
