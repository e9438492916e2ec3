/**
 * IPv4 CIDR arithmetic the egress allowance needs: whether one block holds another (a CIDR
 * someone else put in `publicAccessCidrs` may already let a NAT IP in), and whether a block
 * is private (RFC 1918, or RFC 6598 shared space): such sources reach only a cluster's
 * private endpoint, never its public one.
 */

/** The 32-bit value of an IPv4 address, or undefined when it is not one. */
function ipv4Value(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** The first address and the prefix length of an IPv4 CIDR, or undefined when it is not one. */
export function parseCidr(cidr: string): { readonly base: number; readonly prefix: number } | undefined {
  const [ip, bits] = cidr.split('/');
  const value = ipv4Value(ip ?? '');
  const prefix = Number(bits ?? '32');
  if (value === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: value - (value % size), prefix };
}

/**
 * Whether every address of `inner` is in `outer`.
 *
 * @example
 * cidrContains('18.0.0.0/16', '18.0.35.117/32'); // true
 */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || i.prefix < o.prefix) return false;
  const size = 2 ** (32 - o.prefix);
  return i.base >= o.base && i.base < o.base + size;
}

/** The private ranges: RFC 1918 and RFC 6598 (carrier-grade NAT, used inside AWS by some VPCs). */
export const PRIVATE_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
];

/**
 * Whether a CIDR lies in a private range: addresses that reach a cluster only through its
 * private endpoint (within the VPC, or over peering / a Transit Gateway).
 *
 * @example
 * isPrivateCidr('10.20.0.0/16'); // true
 * isPrivateCidr('18.0.35.117/32'); // false
 */
export function isPrivateCidr(cidr: string): boolean {
  return PRIVATE_RANGES.some((range) => cidrContains(range, cidr));
}
