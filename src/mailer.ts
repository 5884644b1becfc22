import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import nodemailer, { type Transporter } from 'nodemailer'
import type { FastifyBaseLogger } from 'fastify'

export interface MailMessage {
  to: string
  subject: string
  text: string
  html: string
}

export interface MailerOptions {
  from: string
  smtpUrl?: string
  outboxDir: string
  /** how long a request may wait for the send before it answers anyway, ms */
  sendTimeout: number
  log: FastifyBaseLogger
}

/**
 * Mail through nodemailer. Without SMTP every message is an RFC 5322 `.eml` file in the
 * outbox directory (nodemailer's stream transport builds it, so it is exactly what SMTP
 * would carry). A send that fails or outlasts the bound is logged with its message id and
 * the message is kept as an `.eml` under `failed/` in the outbox, so no mail is lost
 * silently and an operator can resend it.
 */
export class Mailer {
  readonly #opts: MailerOptions
  readonly #smtp?: Transporter
  readonly #builder: Transporter
  readonly #pending = new Set<Promise<unknown>>()

  constructor (opts: MailerOptions) {
    this.#opts = opts
    this.#builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
    if (opts.smtpUrl !== undefined) this.#smtp = nodemailer.createTransport(opts.smtpUrl)
  }

  get mode (): 'smtp' | 'outbox' { return this.#smtp === undefined ? 'outbox' : 'smtp' }

  /**
   * Sends in the background and waits at most `sendTimeout` for it, so a slow SMTP server
   * never holds an HTTP answer longer than that bound.
   */
  async dispatch (message: MailMessage): Promise<void> {
    const job = this.send(message).catch(() => {})
    this.#pending.add(job)
    job.finally(() => this.#pending.delete(job)).catch(() => {})
    let timer: NodeJS.Timeout | undefined
    await Promise.race([job, new Promise(resolve => { timer = setTimeout(resolve, this.#opts.sendTimeout) })])
    clearTimeout(timer)
  }

  /** Resolves when every background send has finished (for shutdown and tests). */
  async drain (): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  async send (message: MailMessage): Promise<{ messageId: string, delivered: boolean }> {
    const built = await this.#builder.sendMail({ from: this.#opts.from, ...message }) as unknown as { messageId: string, message: Buffer }
    const messageId = built.messageId
    const log = this.#opts.log.child({ messageId, subject: message.subject })
    if (this.#smtp === undefined) {
      const file = await this.#writeEml(this.#opts.outboxDir, messageId, built.message)
      log.info({ file }, 'mail written to outbox')
      return { messageId, delivered: true }
    }
    try {
      await this.#smtp.sendMail({ envelope: { from: this.#opts.from, to: [message.to] }, raw: built.message })
      log.info('mail sent')
      return { messageId, delivered: true }
    } catch (err) {
      const file = await this.#writeEml(join(this.#opts.outboxDir, 'failed'), messageId, built.message)
      log.error({ err: { message: (err as Error).message, code: (err as { code?: string }).code }, file }, 'mail send failed; message kept for resending')
      return { messageId, delivered: false }
    }
  }

  async close (): Promise<void> {
    await this.drain()
    this.#smtp?.close()
  }

  async #writeEml (dir: string, messageId: string, raw: Buffer): Promise<string> {
    await mkdir(dir, { recursive: true })
    const safe = messageId.replace(/[^A-Za-z0-9.@-]/g, '')
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${safe}.eml`)
    await writeFile(file, raw)
    return file
  }
}
