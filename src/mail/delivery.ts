import { mkdir, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import nodemailer, { type Transporter } from 'nodemailer'
import type { FastifyBaseLogger } from 'fastify'
import { addressOf, emlFiles, recipientOf, writeEml } from './outbox.js'
import type { MailMessage } from './templates.js'
import type { Config } from '../config.js'

export interface MailerOptions {
  from: string
  smtpUrl?: string
  outboxDir: string
  /** how long a request may wait for the send before it answers anyway */
  sendTimeoutMs: number
  /** SMTP attempts per message before it is parked under `failed/` (default 1) */
  attempts?: number
  /** delay before the second attempt, doubled for each further one */
  retryDelayMs?: number
  log: FastifyBaseLogger
}

/** The mailer's options as the configuration sets them: the server and `npm run mail:retry` share them. */
export function mailerOptions (c: Pick<Config, 'mailFrom' | 'smtpUrl' | 'mailOutboxDir' | 'mailSendTimeoutMs' | 'mailSendAttempts' | 'mailRetryDelayMs'>, log: FastifyBaseLogger): MailerOptions {
  return { from: c.mailFrom, smtpUrl: c.smtpUrl, outboxDir: c.mailOutboxDir, sendTimeoutMs: c.mailSendTimeoutMs, attempts: c.mailSendAttempts, retryDelayMs: c.mailRetryDelayMs, log }
}

/** Where a message ended up: handed to the SMTP server, written to the outbox, or parked. */
export interface Delivery {
  messageId: string
  status: 'sent' | 'outbox' | 'failed'
  attempts: number
  file?: string
}

export interface PostedMail {
  messageId: string
  /** settles once the message is sent, written or parked; never rejects */
  delivery: Promise<Delivery>
}

interface BuiltMail { messageId: string, raw: Buffer }

// Socket bounds for SMTP: nodemailer's default connection timeout is two minutes, far
// longer than a background retry should hang on a dead server.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

/**
 * Mail through nodemailer. Every message is first built as one RFC 5322 message
 * (nodemailer's stream transport: text and HTML alternatives, Message-ID), so what is
 * written to a file is byte for byte what SMTP would carry.
 *
 * - Without SMTP_URL the message is written as `.eml` into the outbox directory.
 * - With SMTP_URL it is sent in the background. A transient failure (connection refused,
 *   timeout, a 4xx reply) is retried `attempts` times with a doubling delay; after the
 *   last attempt, or at once on a permanent 5xx rejection, the message is written to
 *   `failed/` under the outbox and logged at error level with its Message-ID, so an
 *   operator can resend it (`npm run mail:retry`). No send failure is ever reported to
 *   the HTTP caller: see the README, "Mail delivery", for why.
 */
export class Mailer {
  readonly #opts: MailerOptions
  readonly #smtp?: Transporter
  readonly #builder: Transporter
  readonly #pending = new Set<Promise<Delivery>>()
  /** messages whose SMTP send is under way, by Message-ID, for parking at shutdown */
  readonly #inflight = new Map<string, { built: BuiltMail, log: FastifyBaseLogger }>()
  /** Message-IDs already parked, so a late failure does not park a message twice */
  readonly #parked = new Set<string>()
  readonly #sleepers = new Set<() => void>()
  #closing = false

  constructor (opts: MailerOptions) {
    this.#opts = opts
    this.#builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
    if (opts.smtpUrl !== undefined) this.#smtp = createSmtpTransport(opts.smtpUrl)
  }

  get mode (): 'smtp' | 'outbox' { return this.#smtp === undefined ? 'outbox' : 'smtp' }
  get failedDir (): string { return join(this.#opts.outboxDir, 'failed') }

  /** Builds the message exactly as it would be sent; nothing leaves the process. */
  async build (message: MailMessage): Promise<BuiltMail> {
    const built = await this.#builder.sendMail({
      from: this.#opts.from,
      ...message,
      // Automated mail: out-of-office replies and auto-responders should stay quiet.
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' }
    }) as unknown as { messageId: string, message: Buffer }
    return { messageId: built.messageId, raw: built.message }
  }

  /**
   * Accepts a message and returns without waiting for SMTP. In outbox mode the file is
   * written before this returns (it is local and quick, and what a developer reads next).
   * Endpoints whose answer must not depend on whether an account exists use this.
   */
  async post (message: MailMessage): Promise<PostedMail> {
    const built = await this.build(message)
    const log = this.#opts.log.child({ messageId: built.messageId, subject: message.subject })
    if (this.#smtp === undefined) {
      try {
        const file = await writeEml(this.#opts.outboxDir, built.messageId, built.raw)
        log.info({ file }, 'mail written to outbox')
        return { messageId: built.messageId, delivery: Promise.resolve({ messageId: built.messageId, status: 'outbox', attempts: 0, file }) }
      } catch (err) {
        // Same rule as for SMTP: the caller's answer never depends on the mail (a 500 only
        // for known addresses would tell them apart); the log keeps the Message-ID.
        log.fatal({ writeError: errorFacts(err) }, 'mail could not be written to the outbox')
        return { messageId: built.messageId, delivery: Promise.resolve({ messageId: built.messageId, status: 'failed', attempts: 0 }) }
      }
    }
    // Started on a later turn of the event loop: the caller answers first, and the
    // connection set-up is not charged to its request.
    const smtp = this.#smtp
    const delivery = new Promise<void>(resolve => setImmediate(resolve)).then(async () => await this.#deliver(smtp, message.to, built, log))
    this.#pending.add(delivery)
    delivery.finally(() => this.#pending.delete(delivery)).catch(() => {})
    return { messageId: built.messageId, delivery }
  }

  /**
   * Sends and waits at most `sendTimeoutMs` for the result, so a slow SMTP server never holds
   * an HTTP answer longer than that bound; the send goes on in the background after it.
   * Resolves to the delivery when it finished in time, else undefined. Never rejects for a
   * failed send (it is parked and logged) or an outbox that cannot be written (logged).
   */
  async dispatch (message: MailMessage): Promise<Delivery | undefined> {
    const { delivery } = await this.post(message)
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<undefined>(resolve => { timer = setTimeout(() => resolve(undefined), this.#opts.sendTimeoutMs) })
    try {
      return await Promise.race([delivery, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends and waits for the final result, however long the retries take. */
  async send (message: MailMessage): Promise<Delivery> {
    return await (await this.post(message)).delivery
  }

  /** Resolves when every background send has finished (for shutdown and tests). */
  async drain (): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  /**
   * Stops retrying (what is still unsent is parked under failed/ at once) and closes SMTP.
   * A send still hanging on a slow server after `graceMs` is parked as well, since the
   * process may be gone before it ends: such a message may then arrive twice, never zero
   * times.
   */
  async close (graceMs = 3000): Promise<void> {
    this.#closing = true
    for (const wake of this.#sleepers) wake()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([this.drain(), new Promise<void>(resolve => { timer = setTimeout(resolve, graceMs) })])
    clearTimeout(timer)
    for (const [messageId, { built, log }] of this.#inflight) {
      if (this.#parked.has(messageId)) continue
      this.#parked.add(messageId)
      const file = await writeEml(this.failedDir, built.messageId, built.raw).catch(() => undefined)
      log.error({ file }, 'mail still sending at shutdown; message parked for resending (it may also arrive)')
    }
    this.#smtp?.close()
  }

  /**
   * Resends every message parked under failed/ through SMTP; a sent one moves to
   * failed/sent/. For the `mail:retry` script.
   */
  async retryFailed (): Promise<{ sent: number, failed: number }> {
    if (this.#smtp === undefined) throw new Error('SMTP_URL is not set: nothing to resend through')
    const dir = this.failedDir
    const files = await emlFiles(dir)
    let sent = 0
    let failed = 0
    for (const f of files) {
      const raw = await readFile(join(dir, f))
      const to = recipientOf(raw)
      const log = this.#opts.log.child({ file: f })
      if (to === null) {
        log.error('no recipient in parked message; left in place')
        failed++
        continue
      }
      try {
        await this.#smtp.sendMail({ envelope: { from: addressOf(this.#opts.from), to: [to] }, raw })
        await mkdir(join(dir, 'sent'), { recursive: true, mode: 0o700 })
        await rename(join(dir, f), join(dir, 'sent', f))
        log.info('parked mail resent')
        sent++
      } catch (err) {
        log.error({ smtpError: errorFacts(err) }, 'parked mail still cannot be sent; left in place')
        failed++
      }
    }
    return { sent, failed }
  }

  async #deliver (smtp: Transporter, to: string, built: BuiltMail, log: FastifyBaseLogger): Promise<Delivery> {
    const attempts = Math.max(1, this.#opts.attempts ?? 1)
    const retryDelayMs = this.#opts.retryDelayMs ?? 0
    let attempt = 0
    let lastError: unknown
    this.#inflight.set(built.messageId, { built, log })
    try {
      while (attempt < attempts) {
        attempt++
        try {
          await smtp.sendMail({ envelope: { from: addressOf(this.#opts.from), to: [to] }, raw: built.raw })
          log.info({ attempt }, 'mail sent')
          return { messageId: built.messageId, status: 'sent', attempts: attempt }
        } catch (err) {
          lastError = err
          const permanent = isPermanent(err)
          const last = permanent || this.#closing || attempt >= attempts
          log.warn({ smtpError: errorFacts(err), attempt, willRetry: !last }, 'mail send attempt failed')
          if (last) break
          await this.#sleep(retryDelayMs * 2 ** (attempt - 1))
          // Woken by close(): park now rather than start a send the process may not finish.
          if (this.#closing) break
        }
      }
      // Parked already by close() while this send hung: one copy is enough.
      if (this.#parked.has(built.messageId)) return { messageId: built.messageId, status: 'failed', attempts: attempt }
      this.#parked.add(built.messageId)
      try {
        const file = await writeEml(this.failedDir, built.messageId, built.raw)
        log.error({ smtpError: errorFacts(lastError), attempts: attempt, file }, 'mail send failed; message parked for resending')
        return { messageId: built.messageId, status: 'failed', attempts: attempt, file }
      } catch (err) {
        // The disk is the last resort; if even that fails, the log line is what is left.
        log.fatal({ smtpError: errorFacts(lastError), writeError: errorFacts(err), attempts: attempt }, 'mail send failed and the message could not be parked')
        return { messageId: built.messageId, status: 'failed', attempts: attempt }
      }
    } finally {
      this.#inflight.delete(built.messageId)
      this.#parked.delete(built.messageId)
    }
  }

  async #sleep (ms: number): Promise<void> {
    if (ms <= 0 || this.#closing) return
    await new Promise<void>(resolve => {
      const wake = (): void => { clearTimeout(timer); this.#sleepers.delete(wake); resolve() }
      const timer = setTimeout(wake, ms)
      this.#sleepers.add(wake)
    })
  }
}

function createSmtpTransport (url: string): Transporter {
  // Values given in the URL's query (e.g. ?connectionTimeout=5000) win over these bounds.
  // smtp:// upgrades with STARTTLS whenever the server offers it (nodemailer's default;
  // add ?requireTLS=true to refuse plaintext); smtps:// is TLS from the first byte.
  return nodemailer.createTransport({ ...SMTP_TIMEOUTS, url })
}

/** A 5xx reply will not change on retry; anything else (network, 4xx) may. */
function isPermanent (err: unknown): boolean {
  const code = (err as { responseCode?: number }).responseCode
  return typeof code === 'number' && code >= 500 && code < 600
}

function errorFacts (err: unknown): Record<string, unknown> {
  const e = err as { message?: string, code?: string, responseCode?: number, command?: string }
  return { message: e?.message, code: e?.code, responseCode: e?.responseCode, command: e?.command }
}
