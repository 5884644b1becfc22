import { createHmac } from 'node:crypto'

/*
 * RFC 6238 written out here, independent of the server's otplib: the tests compute codes
 * as an authenticator app would, so a bug in the server's use of otplib cannot hide.
 */
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

export function base32Decode (text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase()
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const ch of clean) {
    const v = B32.indexOf(ch)
    if (v === -1) throw new Error('not base32')
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** RFC 4226 HOTP with HMAC-SHA1 and dynamic truncation. */
export function hotp (key: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac('sha1', key).update(msg).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const bin = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3]
  return String(bin % 10 ** digits).padStart(digits, '0')
}

export const PERIOD = 30

export function stepAt (ms = Date.now()): number {
  return Math.floor(ms / 1000 / PERIOD)
}

export function totpAtStep (secret: string, step: number): string {
  return hotp(base32Decode(secret), step)
}

/**
 * An authenticator that knows the server accepts each time step once and only steps after
 * the last one used. It picks the earliest unused step still safely inside the server's
 * one-step window: the previous step only while more than 10 s of the current one remain,
 * so a step boundary passing during the request cannot push it out. It waits for the
 * clock only when every usable step is spent.
 */
export class Authenticator {
  readonly secret: string
  last = -1

  constructor (secret: string) {
    this.secret = secret
  }

  async next (): Promise<string> {
    for (;;) {
      const now = Date.now()
      const current = stepAt(now)
      const leftMs = (current + 1) * PERIOD * 1000 - now
      const step = Math.max(this.last + 1, leftMs > 10_000 ? current - 1 : current)
      if (step <= current + 1) {
        this.last = step
        return totpAtStep(this.secret, step)
      }
      await new Promise(resolve => setTimeout(resolve, (current + 1) * PERIOD * 1000 - now + 20))
    }
  }

  /** The code of the last step used: a replay. */
  lastCode (): string {
    return totpAtStep(this.secret, this.last)
  }

  /** A code `steps` steps before now. */
  codeAgo (steps: number): string {
    return totpAtStep(this.secret, stepAt() - steps)
  }
}
