import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Mailer, type MailerOptions } from '../../src/mail/delivery.js'
import { passwordResetMessage } from '../../src/accounts/recovery-mail.js'
import { closedPort, linkToken, startSmtpSink } from '../support/smtp-sink.js'

interface LogLine { level: number, msg: string, messageId?: string, smtpError?: { code?: string, responseCode?: number }, attempts?: number, attempt?: number, file?: string }

async function mailer (t: Test, opts: Partial<MailerOptions> = {}): Promise<{ mailer: Mailer, logs: LogLine[], outbox: string }> {
  const logs: LogLine[] = []
  const logger = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } })
  const outbox = opts.outboxDir ?? await mkdtemp(join(tmpdir(), 'gatehouse-mailer-'))
  const m = new Mailer({ from: 'Gatehouse <no-reply@gatehouse.test>', outboxDir: outbox, sendTimeoutMs: 2000, log: logger.log, ...opts })
  t.teardown(async () => {
    await m.close()
    await logger.close()
    if (opts.outboxDir === undefined) await rm(outbox, { recursive: true, force: true })
  })
  return { mailer: m, logs, outbox }
}

const message = (to = 'ada@example.com') => passwordResetMessage(to, 'https://gatehouse.test', 'T'.repeat(43), 30)

t.test('without SMTP a message is one .eml with text and HTML parts, readable only by its owner', async t => {
  const { mailer: m, outbox } = await mailer(t)
  const posted = await m.post(message())
  const delivery = await posted.delivery
  t.equal(delivery.status, 'outbox')
  const files = await readdir(outbox)
  t.equal(files.length, 1, 'written before post() returned')
  const raw = await readFile(join(outbox, files[0]), 'utf8')
  t.match(raw, /^Content-Type: multipart\/alternative/m)
  t.match(raw, /^Content-Type: text\/plain/m)
  t.match(raw, /^Content-Type: text\/html/m)
  t.match(raw, /^Auto-Submitted: auto-generated$/m)
  t.match(raw, /^Subject: Reset your Gatehouse password$/m)
  t.match(raw, new RegExp(`^Message-ID: ${posted.messageId.replace(/[.+]/g, '\\$&')}$`, 'm'))
  t.equal((await stat(join(outbox, files[0]))).mode & 0o777, 0o600)
  t.equal((await stat(outbox)).mode & 0o077, 0, 'the outbox directory is private')
})

t.test('smtp:// upgrades with STARTTLS when offered, smtps:// is TLS, and both carry both parts and the link', async t => {
  for (const secure of [false, true]) {
    const sink = await startSmtpSink(t, { secure })
    const { mailer: m } = await mailer(t, { smtpUrl: sink.url })
    t.equal(m.mode, 'smtp')
    const delivery = await m.send(message())
    t.equal(delivery.status, 'sent')
    const [mail] = sink.mails
    t.ok(mail.secure, `${secure ? 'smtps' : 'smtp + STARTTLS'} session is encrypted`)
    t.same(mail.to, ['ada@example.com'])
    t.equal(mail.from, 'no-reply@gatehouse.test')
    t.equal(mail.messageId, delivery.messageId)
    t.equal(linkToken(mail, 'https://gatehouse.test', 'reset-password'), 'T'.repeat(43))
  }
})

t.test('smtp:// without STARTTLS on offer sends in plaintext, unless the URL says requireTLS', async t => {
  const sink = await startSmtpSink(t, { disabledCommands: ['STARTTLS'] })
  const plain = await mailer(t, { smtpUrl: sink.url })
  t.equal((await plain.mailer.send(message())).status, 'sent')
  t.equal(sink.mails[0].secure, false)
  const strict = await mailer(t, { smtpUrl: `${sink.url}&requireTLS=true` })
  const refused = await strict.mailer.send(message())
  t.equal(refused.status, 'failed')
  t.equal(sink.mails.length, 1, 'nothing went out in plaintext')
})

t.test('a temporary refusal is retried and the message then goes out', async t => {
  let refusals = 1
  const sink = await startSmtpSink(t, {
    onRcptTo (_address, _session, callback) {
      if (refusals-- > 0) return callback(Object.assign(new Error('try again later'), { responseCode: 451 }))
      callback()
    }
  })
  const { mailer: m, logs } = await mailer(t, { smtpUrl: sink.url, attempts: 3, retryDelayMs: 1 })
  const delivery = await m.send(message())
  t.same({ status: delivery.status, attempts: delivery.attempts }, { status: 'sent', attempts: 2 })
  t.equal(sink.mails.length, 1)
  t.ok(logs.some(l => l.msg === 'mail send attempt failed' && l.messageId === delivery.messageId && l.smtpError?.responseCode === 451))
})

t.test('a permanent refusal is not retried: the message is parked and logged with its Message-ID', async t => {
  const sink = await startSmtpSink(t, {
    onRcptTo (_address, _session, callback) { callback(Object.assign(new Error('no such user'), { responseCode: 550 })) }
  })
  const { mailer: m, logs, outbox } = await mailer(t, { smtpUrl: sink.url, attempts: 3, retryDelayMs: 1 })
  const delivery = await m.send(message())
  t.same({ status: delivery.status, attempts: delivery.attempts }, { status: 'failed', attempts: 1 })
  const parked = await readdir(join(outbox, 'failed'))
  t.equal(parked.length, 1)
  t.equal(join(outbox, 'failed', parked[0]), delivery.file)
  const error = logs.find(l => l.level === 50)
  t.match(error, { msg: 'mail send failed; message parked for resending', messageId: delivery.messageId, attempts: 1, smtpError: { responseCode: 550 } })
  t.notOk(JSON.stringify(logs).includes('T'.repeat(43)), 'the log never carries the link')
})

t.test('SMTP down: every attempt fails, the message is parked with its link, and the log names its Message-ID', async t => {
  const port = await closedPort()
  const { mailer: m, logs, outbox } = await mailer(t, { smtpUrl: `smtp://127.0.0.1:${port}`, attempts: 3, retryDelayMs: 1 })
  const delivery = await m.send(message())
  t.same({ status: delivery.status, attempts: delivery.attempts }, { status: 'failed', attempts: 3 })
  const raw = await readFile(delivery.file!, 'utf8')
  t.match(raw, /reset-password\?token=3DT{10}|reset-password\?token=T{10}/)
  t.equal((await stat(delivery.file!)).mode & 0o777, 0o600)
  t.equal(logs.filter(l => l.msg === 'mail send attempt failed').length, 3)
  t.match(logs.find(l => l.level === 50), { messageId: delivery.messageId, smtpError: { code: 'ESOCKET' }, file: delivery.file })
  t.equal((await readdir(join(outbox, 'failed'))).length, 1)
})

t.test('a slow SMTP server does not hold dispatch() beyond its bound; the send completes afterwards', async t => {
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  const sink = await startSmtpSink(t, { gate: async () => await released })
  const { mailer: m } = await mailer(t, { smtpUrl: sink.url, sendTimeoutMs: 50 })
  const result = await m.dispatch(message())
  t.equal(result, undefined, 'dispatch() answered before the server accepted the message')
  t.equal(sink.mails.length, 0)
  release()
  await m.drain()
  t.equal(sink.mails.length, 1, 'the message still went out')
})

t.test('closing stops waiting for retries and parks what is unsent at once', async t => {
  const port = await closedPort()
  const { mailer: m, outbox, logs } = await mailer(t, { smtpUrl: `smtp://127.0.0.1:${port}`, attempts: 5, retryDelayMs: 600_000 })
  const posted = await m.post(message())
  // Close while the mailer sleeps before its second attempt.
  while (!logs.some(l => l.msg === 'mail send attempt failed')) await new Promise(resolve => setTimeout(resolve, 5))
  await m.close()
  const delivery = await posted.delivery
  t.equal(delivery.status, 'failed')
  t.equal(delivery.attempts, 1, 'no ten-minute wait for the second attempt')
  t.equal((await readdir(join(outbox, 'failed'))).length, 1)
})

t.test('parked messages can be resent once SMTP is back, unchanged', async t => {
  const outbox = await mkdtemp(join(tmpdir(), 'gatehouse-mailer-'))
  t.teardown(async () => { await rm(outbox, { recursive: true, force: true }) })
  const port = await closedPort()
  const down = await mailer(t, { smtpUrl: `smtp://127.0.0.1:${port}`, outboxDir: outbox })
  const first = await down.mailer.send(message('ada@example.com'))
  const second = await down.mailer.send(message('bob@example.com'))
  t.equal((await readdir(join(outbox, 'failed'))).filter(f => f.endsWith('.eml')).length, 2)

  const sink = await startSmtpSink(t)
  const up = await mailer(t, { smtpUrl: sink.url, outboxDir: outbox })
  t.same(await up.mailer.retryFailed(), { sent: 2, failed: 0 })
  t.same(sink.mails.map(m => m.messageId).sort(), [first.messageId, second.messageId].sort())
  t.same(sink.mails.map(m => m.to[0]).sort(), ['ada@example.com', 'bob@example.com'])
  t.same((await readdir(join(outbox, 'failed'))).filter(f => f.endsWith('.eml')), [], 'nothing left to resend')
  t.equal((await readdir(join(outbox, 'failed', 'sent'))).length, 2, 'kept under failed/sent/')
})

t.test('a send still hanging on a slow server at shutdown is parked, not lost', async t => {
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let hold!: () => void
  const held = new Promise<void>(resolve => { hold = resolve })
  const sink = await startSmtpSink(t, { gate: async () => { hold(); await released } })
  const { mailer: m, outbox, logs } = await mailer(t, { smtpUrl: sink.url })
  const posted = await m.post(message())
  // Wait until the server holds the whole message without answering, then shut down.
  await held
  await m.close(50)
  t.equal((await readdir(join(outbox, 'failed'))).length, 1, 'parked while the send still hangs')
  t.ok(logs.some(l => l.level === 50 && l.messageId === posted.messageId), 'logged with its Message-ID')
  release()
  t.equal((await posted.delivery).status, 'sent', 'the hanging send may still complete: at least once, never zero times')
  t.equal((await readdir(join(outbox, 'failed'))).length, 1, 'and it is not parked twice')
})

t.test('an outbox that cannot be written does not fail the caller; the log keeps the Message-ID', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-mailer-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'not-a-directory'), '')
  const { mailer: m, logs } = await mailer(t, { outboxDir: join(dir, 'not-a-directory', 'outbox') })
  const posted = await m.post(message())
  t.equal((await posted.delivery).status, 'failed')
  t.match(logs.find(l => l.level === 60), { msg: 'mail could not be written to the outbox', messageId: posted.messageId })
})
