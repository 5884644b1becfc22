import { readFileSync } from 'node:fs'

/**
 * A setting holding a JSON array, or `@path` to a file holding one (OAUTH_PROVIDERS,
 * WEBHOOKS). Throws one line that never echoes the text: it may hold secrets. `hint`
 * follows the messages, to say what the array holds.
 */
export function readJsonArray (raw: string, hint = ''): unknown[] {
  let text = raw
  if (raw.startsWith('@')) {
    try {
      text = readFileSync(raw.slice(1), 'utf8')
    } catch {
      throw new Error(`cannot read ${raw.slice(1)}`)
    }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error(`is not valid JSON${hint}`)
  }
  if (!Array.isArray(parsed)) throw new Error(`must be a JSON array${hint}`)
  return parsed
}
