import { isIPv4, isIPv6 } from 'node:net'

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included), or null. */
function ipv6Groups (address: string): number[] | null {
  let text = address.toLowerCase()
  const zone = text.indexOf('%')
  if (zone !== -1) text = text.slice(0, zone)
  if (!isIPv6(text)) return null
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (isIPv4(tail)) {
    const o = tail.split('.').map(Number)
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`
  }
  const parse = (s: string): number[] => s === '' ? [] : s.split(':').map(h => parseInt(h, 16))
  const double = text.indexOf('::')
  const groups = double === -1
    ? parse(text)
    : (() => {
        const left = parse(text.slice(0, double))
        const right = parse(text.slice(double + 2))
        return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right]
      })()
  return groups.length === 8 && groups.every(g => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null
}

/**
 * The key under which a client address is counted. IPv4 as is; an IPv4-mapped IPv6 address
 * (`::ffff:198.51.100.7`) as the IPv4 address it is; any other IPv6 address as its /64
 * prefix, canonical (`2001:db8:1:2::/64`): one subscriber or host usually holds a whole /64,
 * so counting single addresses would give one client 2^64 budgets. Anything else is kept
 * verbatim (it names no address, and still gets one budget).
 */
export function clientKey (address: string): string {
  if (isIPv4(address)) return address
  const g = ipv6Groups(address)
  if (g === null) return address
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`
  }
  return `${g.slice(0, 4).map(x => x.toString(16)).join(':')}::/64`
}
