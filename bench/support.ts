/*
 * What the bench scripts (run.ts, profile.ts, ab.ts) share: waiting for a server, and
 * signing in to Gatehouse as a browser does.
 */

/** Resolves once `url` answers below 500; throws after `ms`. */
export async function waitFor (url: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).status < 500) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer within ${ms} ms`)
}

/**
 * Signs in to `email` at the server at `base` (a Gatehouse or a baseline): the session's
 * `name=value` cookie and, from Gatehouse, the device cookie (`gatehouseDevice=…`).
 */
export async function signIn (base: string, email: string, password: string, userAgent?: string): Promise<{ session: string, device: string | undefined }> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...(userAgent === undefined ? {} : { 'user-agent': userAgent }) }, body: JSON.stringify({ email, password }) })
  if (r.status !== 200) throw new Error(`${base}: login of ${email} answered ${r.status}: ${await r.text()}`)
  const cookies = r.headers.getSetCookie().map(c => c.split(';')[0])
  const device = cookies.find(c => c.startsWith('gatehouseDevice='))
  return { session: cookies.find(c => c !== device) ?? '', device }
}
