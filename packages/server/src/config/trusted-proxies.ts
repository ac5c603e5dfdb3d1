/**
 * TRUSTED_PROXIES: the peers (addresses or CIDR ranges, IPv4 or IPv6) whose `X-Forwarded-For` header names the real
 * client. Everyone else is taken at their socket's address, so a client cannot pick the address its limits count on.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface TrustedProxies {
  /** Whether `address` (as a socket reports it, IPv4-mapped IPv6 included) is a trusted proxy. */
  has(address: string): boolean;
}

/** Parses a comma-separated list of addresses and CIDRs; a problem line names the first bad entry. */
export function parseTrustedProxies(text: string): { proxies: TrustedProxies } | { problem: string } {
  const list = new BlockList();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [address, bits, extra] = entry.split('/');
    const family = isIPv4(address ?? '') ? 'ipv4' : isIPv6(address ?? '') ? 'ipv6' : null;
    const prefix = bits === undefined ? null : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!family || extra !== undefined || Number.isNaN(prefix) || (prefix !== null && prefix > (family === 'ipv4' ? 32 : 128))) {
      return { problem: `"${entry}" is not an IP address or CIDR range like 10.0.0.0/8` };
    }
    if (prefix === null) list.addAddress(address!, family);
    else list.addSubnet(address!, prefix, family);
  }
  return { proxies: { has: (address) => matches(list, address) } };
}

function matches(list: BlockList, address: string): boolean {
  const plain = unmapIPv4(address);
  if (isIPv4(plain)) return list.check(plain, 'ipv4');
  return isIPv6(plain) && list.check(plain, 'ipv6');
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: a dual-stack listener reports IPv4 peers in the mapped form. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The client address of a request that arrived from `peer`: the peer itself, unless it is a trusted proxy; then the
 * right-most `X-Forwarded-For` entry that is not a trusted proxy (entries to its left can be forged by the client).
 */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, proxies: TrustedProxies | null): string {
  const address = unmapIPv4(peer);
  if (!proxies || !forwardedFor || !proxies.has(address)) return address;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapIPv4(hops[i]!.trim());
    if (!isIPv4(hop) && !isIPv6(hop)) return address;
    if (!proxies.has(hop)) return hop;
  }
  return address;
}
