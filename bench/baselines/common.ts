/*
 * What the baseline servers of `npm run bench` share: their settings from the bench (PORT,
 * REDIS_URL, BODY_FILE, SECRET), the user record they sign in against, and the answers.
 *
 * Each baseline does the same work as Gatehouse on its two measured paths, minus what
 * Gatehouse adds: POST /api/auth/login reads the user (one GET), verifies the password
 * with argon2 (the same hash, so the same parameters) and starts a session; GET
 * /api/auth/me reads the session and answers the same JSON body as Gatehouse's /me.
 */
import argon2 from 'argon2'
import { readFileSync } from 'node:fs'

export const PORT = Number(process.env.PORT)
export const REDIS_URL = process.env.REDIS_URL ?? ''
export const SECRET = process.env.SECRET ?? 'a bench secret of at least thirty-two characters'
/** the sliding lifetime Gatehouse uses: 7 days */
export const TTL_MS = 604_800_000
/** Gatehouse's answer to GET /me, served as it is: the baselines never read the user. */
export const ME_BODY: unknown = process.env.BODY_FILE === undefined ? {} : JSON.parse(readFileSync(process.env.BODY_FILE, 'utf8'))

/** The key of the bench user's record, written by the bench: JSON `{ id, passwordHash, user }`. */
export const userRecordKey = (email: string): string => `bench:user:${email.toLowerCase()}`

export interface UserRecord { id: string, passwordHash: string, user: unknown }

export interface LoginBody { email?: string, password?: string }

/** The user whose password this is, or null: one read, one argon2.verify. */
export async function checkLogin (read: (key: string) => Promise<string | null>, body: LoginBody): Promise<UserRecord | null> {
  if (typeof body.email !== 'string' || typeof body.password !== 'string') return null
  const raw = await read(userRecordKey(body.email))
  if (raw === null) return null
  const record = JSON.parse(raw) as UserRecord
  return await argon2.verify(record.passwordHash, body.password) ? record : null
}

export const UNAUTHENTICATED = { status: 401, code: 'UNAUTHENTICATED' }

export function stopOnSigterm (close: () => Promise<unknown>): void {
  process.on('SIGTERM', () => { close().then(() => process.exit(0), () => process.exit(1)) })
}
