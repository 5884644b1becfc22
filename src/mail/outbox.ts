/*
 * Reads the development outbox (one .eml file per message):
 *   npm run -s outbox -- token verify-email|reset-password [address]   prints the newest token
 *   npm run -s outbox -- list                                            lists the messages
 * For trying the API with curl without an SMTP server.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadConfig } from '../config.js'

/** Undoes quoted-printable soft line breaks and escapes, enough to find a link. */
export function decodeQuotedPrintable (raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

export interface OutboxMessage { file: string, to: string, subject: string, body: string, raw: string }

export async function readOutbox (dir: string): Promise<OutboxMessage[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter(f => f.endsWith('.eml')).sort()
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

async function main (): Promise<void> {
  const dir = resolve(loadConfig().mailOutboxDir)
  const [command, kind, to] = process.argv.slice(2)
  const messages = await readOutbox(dir)
  if (command === 'list') {
    for (const m of messages) process.stdout.write(`${m.file}\t${m.to}\t${m.subject}\n`)
    return
  }
  if (command === 'token' && kind !== undefined) {
    const token = newestToken(messages, kind, to)
    if (token === undefined) {
      process.stderr.write(`no ${kind} link${to === undefined ? '' : ` to ${to}`} in ${dir}\n`)
      process.exit(1)
    }
    process.stdout.write(`${token}\n`)
    return
  }
  process.stderr.write('usage: npm run -s outbox -- token verify-email|reset-password [address] | list\n')
  process.exit(2)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
