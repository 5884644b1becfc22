import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { newestToken, readOutbox } from '../../src/mail/outbox.js'
import { request } from './http.js'

export const PASSWORD = 'correct horse battery staple'

let counter = 0
export function uniqueEmail (label = 'user'): string {
  counter += 1
  return `${label}.${process.pid}.${counter}@example.com`
}

export function cookieOf (res: LightMyRequestResponse, name = 'sessionId'): string | undefined {
  const c = res.cookies.find(x => x.name === name)
  return c === undefined ? undefined : `${name}=${c.value}`
}

export interface ParsedMail { file: string, to: string, subject: string, text: string, raw: string }

/** Messages in the outbox, oldest first, optionally only those to `to`. */
export async function outboxMessages (outbox: string, to?: string): Promise<ParsedMail[]> {
  const out: ParsedMail[] = []
  for (const m of await readOutbox(outbox)) {
    if (to === undefined || m.to.includes(to)) out.push({ file: m.file, to: m.to, subject: m.subject, text: m.raw, raw: m.raw })
  }
  return out
}

/**
 * The token of the last link of `kind` mailed to `to`. Some mail goes out after the HTTP
 * answer (so its timing cannot reveal an account), hence a short wait for it.
 */
export async function tokenFromOutbox (outbox: string, to: string, kind: LinkKind, waitMs = 5000): Promise<string> {
  const until = Date.now() + waitMs
  for (;;) {
    const token = newestToken(await readOutbox(outbox), kind, to)
    if (token !== undefined) return token
    if (Date.now() > until) throw new Error(`no ${kind} link mailed to ${to}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export interface MailedCode { code: string, token: string, text: string }

/**
 * The code and the link token of the `nth` (1 = first) sign-in mail to `to`, waiting for it:
 * the mail goes out after the HTTP answer. The code is read from the body, the token from
 * the link, as a person would.
 */
export async function emailCodeFromOutbox (outbox: string, to: string, nth = 1, waitMs = 5000): Promise<MailedCode> {
  const until = Date.now() + waitMs
  for (;;) {
    const mails = (await readOutbox(outbox)).filter(m => m.to.toLowerCase().includes(to.toLowerCase()) && m.subject.includes('sign-in code'))
    const mail = mails[nth - 1]
    if (mail !== undefined) {
      const code = mail.body.match(/Your sign-in code is ([0-9]{6})\./)?.[1]
      const token = newestToken([mail], 'sign-in')
      if (code === undefined || token === undefined) throw new Error(`no code or link in "${mail.subject}"`)
      return { code, token, text: mail.body }
    }
    if (Date.now() > until) throw new Error(`no sign-in mail #${nth} to ${to}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export type LinkKind = 'verify-email' | 'reset-password' | 'confirm-email' | 'cancel-email-change' | 'sign-in'

/**
 * Where a user signs up: an app built in this process (answers through inject), or a
 * running server (answers over a real socket); and where its mail lands: the outbox
 * directory, or whatever `tokenFor` reads (an SMTP sink).
 */
export type Target = ({ app: FastifyInstance } | { url: string }) &
  ({ outbox: string } | { tokenFor: (to: string, kind: LinkKind) => Promise<string> })

interface Reply { status: number, body: any, text: string, cookie?: string, setCookie: string[] }

async function send (target: Target, path: string, payload: Record<string, string>): Promise<Reply> {
  if ('url' in target) {
    const res = await request(target.url, 'POST', path, { body: payload })
    return { status: res.status, body: res.body, text: res.text, cookie: res.cookie, setCookie: res.headers.getSetCookie() }
  }
  const res = await target.app.inject({ method: 'POST', url: path, payload })
  let body: unknown = res.body
  try { body = res.json() } catch {}
  const header = res.headers['set-cookie']
  return { status: res.statusCode, body, text: res.body, cookie: cookieOf(res), setCookie: header === undefined ? [] : [header].flat() }
}

export async function registerUser (target: Target, email = uniqueEmail(), password = PASSWORD, extra: Record<string, string> = {}): Promise<{ email: string, password: string }> {
  const res = await send(target, '/api/auth/register', { email, password, ...extra })
  if (res.status !== 202) throw new Error(`register answered ${res.status}: ${res.text}`)
  return { email, password }
}

export async function verifyUser (target: Target, email: string): Promise<void> {
  const token = 'tokenFor' in target ? await target.tokenFor(email, 'verify-email') : await tokenFromOutbox(target.outbox, email, 'verify-email')
  const res = await send(target, '/api/auth/verify-email', { token })
  if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${res.text}`)
}

/** Registers and verifies (the link from the outbox or the SMTP sink); returns the address. */
export async function verifiedUser (target: Target, email = uniqueEmail(), password = PASSWORD): Promise<string> {
  await registerUser(target, email, password)
  await verifyUser(target, email)
  return email
}

export interface SignedIn {
  email: string
  password: string
  userId: string
  /** `sessionId=...`, ready for a Cookie header */
  cookie: string
  csrfToken: string
  /** the Set-Cookie headers of the login answer */
  setCookie: string[]
  /** the login answer's JSON body */
  body: any
}

/** Logs an existing, verified user in; throws unless the answer is 200 with a session cookie. */
export async function logIn (target: Target, email: string, password = PASSWORD): Promise<SignedIn> {
  const login = await send(target, '/api/auth/login', { email, password })
  if (login.status !== 200 || login.cookie === undefined) throw new Error(`login answered ${login.status}: ${login.text}`)
  return { email, password, userId: login.body.user.id, cookie: login.cookie, csrfToken: login.body.csrfToken, setCookie: login.setCookie, body: login.body }
}

/** Registers, verifies (the link from the outbox) and logs in: the one sign-up helper. */
export async function signedInUser (target: Target, email = uniqueEmail(), password = PASSWORD): Promise<SignedIn> {
  return await logIn(target, await verifiedUser(target, email, password), password)
}
