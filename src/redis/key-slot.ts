import { randomUUID } from 'node:crypto'

/** CRC16/XMODEM as Redis Cluster computes it (polynomial 0x1021), by table. */
const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let c = i << 8
  for (let k = 0; k < 8; k++) c = (c & 0x8000) !== 0 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
  TABLE[i] = c
}

function crcStep (crc: number, byte: number): number {
  return ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]
}

function crc16 (bytes: Uint8Array, from = 0, to = bytes.length, crc = 0): number {
  for (let i = from; i < to; i++) crc = crcStep(crc, bytes[i])
  return crc
}

/** The hash slot Redis Cluster gives a key: CRC16 of the `{tag}` if there is a non-empty one, else of the key, mod 16384. */
export function keySlot (key: string): number {
  const bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) return crc16(bytes, open + 1, close) & 0x3fff
  }
  return crc16(bytes) & 0x3fff
}

const HEX = Buffer.from('0123456789abcdef')

/**
 * A random UUID (v4 layout) whose key `{<uuid>}` lies in `slot`, so that a record keyed by the
 * id can be written in one script with another key that is found by a different name (an
 * index entry). The first 32 characters are random; the last four hex digits (16 bits, each
 * of the 16384 slots about four times) are searched from a random start, with the CRC of the
 * fixed part computed once: at most 65536 four-byte steps, well under a millisecond.
 */
export function uuidInSlot (slot: number): string {
  for (;;) {
    const base = randomUUID()
    const prefix = Buffer.from(base.slice(0, 32), 'latin1')
    const start = crc16(prefix)
    const offset = Math.floor(Math.random() * 0x10000)
    for (let n = 0; n < 0x10000; n++) {
      const v = (n + offset) & 0xffff
      let crc = start
      crc = crcStep(crc, HEX[(v >> 12) & 15])
      crc = crcStep(crc, HEX[(v >> 8) & 15])
      crc = crcStep(crc, HEX[(v >> 4) & 15])
      crc = crcStep(crc, HEX[v & 15])
      if ((crc & 0x3fff) === slot) return base.slice(0, 32) + v.toString(16).padStart(4, '0')
    }
  }
}
