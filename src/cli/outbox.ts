/*
 * Reads the development outbox (one .eml file per message):
 *   npm run -s outbox -- token verify-email|reset-password [address]   prints the newest token
 *   npm run -s outbox -- list                                            lists the messages
 * For trying the API with curl without an SMTP server.
 */
import { resolve } from 'node:path'
import { ConfigError, loadConfig } from '../config.js'
import { newestToken, readOutbox } from '../mail/outbox.js'

async function main (): Promise<number> {
  const dir = resolve(loadConfig().mailOutboxDir)
  const [command, kind, to] = process.argv.slice(2)
  const messages = await readOutbox(dir)
  if (command === 'list') {
    for (const m of messages) process.stdout.write(`${m.file}\t${m.to}\t${m.subject}\n`)
    return 0
  }
  if (command === 'token' && kind !== undefined) {
    const token = newestToken(messages, kind, to)
    if (token === undefined) {
      process.stderr.write(`no ${kind} link${to === undefined ? '' : ` to ${to}`} in ${dir}\n`)
      return 1
    }
    process.stdout.write(`${token}\n`)
    return 0
  }
  process.stderr.write('usage: npm run -s outbox -- token verify-email|reset-password [address] | list\n')
  return 2
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exitCode = 1
})
