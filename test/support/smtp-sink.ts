import type { Test } from 'tap'
import { SMTPServer, type SMTPServerOptions } from 'smtp-server'
import { simpleParser } from 'mailparser'
import { createServer, type AddressInfo } from 'node:net'
import type { LinkKind } from './users.js'

export interface SinkMail {
  to: string[]
  from: string
  subject: string
  text: string
  html: string
  messageId: string
  headers: Map<string, unknown>
  /** the session was TLS (smtps or after STARTTLS) */
  secure: boolean
}

export interface SmtpSink {
  port: number
  /** an SMTP_URL for the app; the sink's certificate is nodemailer's self-signed localhost one */
  url: string
  mails: SinkMail[]
  to: (address: string) => SinkMail[]
}

/**
 * An SMTP server of the tests' own (smtp-server) on a free loopback port; every message is
 * parsed with mailparser. It offers STARTTLS unless told otherwise; `secure: true` is TLS
 * from the first byte (smtps). `options` may add hooks (onRcptTo to refuse, onData to delay).
 */
export async function startSmtpSink (t: Test, options: Partial<SMTPServerOptions> & { gate?: () => Promise<void> } = {}): Promise<SmtpSink> {
  const mails: SinkMail[] = []
  const { gate, ...rest } = options
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    ...rest,
    onData (stream, session, callback) {
      simpleParser(stream).then(async parsed => {
        if (gate !== undefined) await gate()
        mails.push({
          to: session.envelope.rcptTo.map(r => r.address),
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          html: typeof parsed.html === 'string' ? parsed.html : '',
          messageId: parsed.messageId ?? '',
          headers: parsed.headers as Map<string, unknown>,
          secure: session.secure
        })
        callback()
      }, callback)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = ((server as unknown as { server: { address: () => AddressInfo } }).server.address()).port
  t.teardown(async () => { await new Promise<void>(resolve => server.close(() => resolve())) })
  const scheme = options.secure === true ? 'smtps' : 'smtp'
  return {
    port,
    url: `${scheme}://127.0.0.1:${port}/?tls.rejectUnauthorized=false`,
    mails,
    to: (address: string) => mails.filter(m => m.to.includes(address))
  }
}

/** A loopback port with nothing listening on it (taken, then released). */
export async function closedPort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', () => resolve()))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>(resolve => srv.close(() => resolve()))
  return port
}

/** The token of the last link of `kind` in the mail's text part, checked against the HTML part. */
export function linkToken (mail: SinkMail, appOrigin: string, kind: LinkKind): string {
  const re = new RegExp(`${appOrigin.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/${kind}\\?token=([A-Za-z0-9_-]+)`)
  const text = mail.text.match(re)
  const html = mail.html.match(re)
  if (text === null) throw new Error(`no ${kind} link in the text part of "${mail.subject}"`)
  if (html === null || html[1] !== text[1]) throw new Error(`the HTML part of "${mail.subject}" lacks the same ${kind} link`)
  return text[1]
}
