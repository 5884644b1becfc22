/*
 * The outbox: one RFC 5322 message per `.eml` file, written where there is no SMTP server
 * (development) and under `failed/` where SMTP refused a message (parked for resending).
 * Files are created 0600 in 0700 directories: they carry live single-use links.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Writes one built message as `<time>-<Message-ID>.eml` into `dir`; returns the path. */
export async function writeEml (dir: string, messageId: string, raw: Buffer): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const safe = messageId.replace(/[^A-Za-z0-9.@-]/g, '')
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${safe}.eml`)
  await writeFile(file, raw, { mode: 0o600 })
  return file
}

/** The `.eml` files in `dir`, oldest first (their names start with the time written). */
export async function emlFiles (dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.eml')).sort()
}

/** `Name <a@b>` -> `a@b` */
export function addressOf (from: string): string {
  return from.match(/<([^>]+)>\s*$/)?.[1] ?? from.trim()
}

/** The address in the To: header of a raw message, or null. */
export function recipientOf (raw: Buffer): string | null {
  const head = raw.toString('utf8').split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ')
  const to = head.match(/^To:\s*(.+)$/mi)?.[1]
  return to === undefined ? null : addressOf(to)
}

/** Undoes quoted-printable soft line breaks and escapes, enough to find a link. */
export function decodeQuotedPrintable (raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

export interface OutboxMessage { file: string, to: string, subject: string, body: string, raw: string }

export async function readOutbox (dir: string): Promise<OutboxMessage[]> {
  const files = await emlFiles(dir)
  return await Promise.all(files.map(async file => {
    const raw = await readFile(join(dir, file), 'utf8')
    const header = (name: string): string => raw.match(new RegExp(`^${name}: (.*)$`, 'mi'))?.[1].trim() ?? ''
    return { file, to: header('To'), subject: header('Subject'), body: decodeQuotedPrintable(raw), raw }
  }))
}

export function newestToken (messages: OutboxMessage[], kind: string, to?: string): string | undefined {
  for (const m of [...messages].reverse()) {
    if (to !== undefined && !m.to.toLowerCase().includes(to.toLowerCase())) continue
    const match = m.body.match(new RegExp(`/${kind}\\?token=([A-Za-z0-9_-]+)`))
    if (match !== null) return match[1]
  }
  return undefined
}
