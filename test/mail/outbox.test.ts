import t from 'tap'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, newestToken, readOutbox, recipientOf, writeEml } from '../../src/mail/outbox.js'

// Bodies are quoted-printable as nodemailer writes them: `=` in a link is `=3D`.
function eml (to: string, subject: string, body: string): Buffer {
  return Buffer.from(`From: Gatehouse <no-reply@gatehouse.test>\nTo: ${to}\nSubject: ${subject}\n\n${body}\n`)
}

t.test('the outbox keeps one private .eml a message and finds the newest link in it', async t => {
  const dir = join(await mkdtemp(join(tmpdir(), 'gatehouse-outbox-')), 'nested')
  t.teardown(async () => { await rm(join(dir, '..'), { recursive: true, force: true }) })
  const first = await writeEml(dir, '<one@gatehouse.test>', eml('a@example.com', 'Verify', 'http://x/verify-email?token=3Dtok_a'))
  await new Promise(resolve => setTimeout(resolve, 5))
  await writeEml(dir, '<two@gatehouse.test>', eml('b@example.com', 'Verify', 'http://x/verify-email?token=3Dtok_b'))
  t.equal((await stat(first)).mode & 0o777, 0o600, 'only the owner reads a live link')
  t.equal((await stat(dir)).mode & 0o777, 0o700)
  t.match(first, /one@gatehouse\.test\.eml$/, 'named after the Message-ID, without its brackets')
  const messages = await readOutbox(dir)
  t.same(messages.map(m => m.to), ['a@example.com', 'b@example.com'], 'oldest first')
  t.equal(newestToken(messages, 'verify-email'), 'tok_b')
  t.equal(newestToken(messages, 'verify-email', 'A@example.com'), 'tok_a', 'the address matches case-insensitively')
  t.equal(newestToken(messages, 'reset-password'), undefined)
  t.same(await readOutbox(join(dir, 'missing')), [], 'no directory, no messages')
})

t.test('a parked message names its recipient for resending', async t => {
  t.equal(recipientOf(eml('Bob <bob@example.com>', 's', 'b')), 'bob@example.com')
  t.equal(recipientOf(Buffer.from('Subject: none\n\nbody\nTo: late@example.com\n')), null, 'only the header counts')
  t.equal(addressOf('Gatehouse <no-reply@localhost>'), 'no-reply@localhost')
  t.equal(addressOf(' plain@example.com '), 'plain@example.com')
})
