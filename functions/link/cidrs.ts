/**
 * What an explicit CIDR of a link may be, whoever asks (docs/architecture.md#who-may-link-what):
 * canonical (no host bits set: EC2 masks them, so `10.0.0.1/8` and `10.0.0.0/8` would be two
 * spellings of one rule), public unicast or a private range (RFC 1918, CGNAT) — never
 * `0.0.0.0/0`, loopback, link-local, multicast, broadcast or any other special-purpose
 * block — no wider than a configured prefix, none inside another, and at most a configured
 * number per link. Whether a private range may be used at all depends on the target (its
 * private endpoint must be where the allowance takes effect) and on the policies.
 *
 * The IP arithmetic and the IANA special-purpose blocks come from `ipaddr.js` (the
 * registry's table, kept with the library, rather than a hand-made list).
 */
import ipaddr from 'ipaddr.js';

/** The limits of a link's explicit CIDRs; the operator sets them. */
export interface CidrGuardrails {
  /** The widest block a link may ask for, as a prefix length: 24 allows /24 to /32. @default 24 */
  readonly widestPrefix: number;
  /** How many CIDRs one link may ask for. @default 20 */
  readonly maxCidrsPerLink: number;
}

export const DEFAULT_CIDR_GUARDRAILS: CidrGuardrails = { widestPrefix: 24, maxCidrsPerLink: 20 };

/** What a CIDR is, for the guardrails. */
export type CidrKind = 'public' | 'private';

/** The ranges a source reaches only over private connectivity (peering, Transit Gateway). */
const PRIVATE_RANGE_NAMES = new Set(['private', 'carrierGradeNat']);

/** A CIDR's problem for one rule, and where it is (its index in the list). */
export interface CidrProblem {
  readonly index: number;
  readonly message: string;
}

type Block = [ipaddr.IPv4, number];

const overlaps = ([a, aBits]: Block, [b, bBits]: Block): boolean =>
  aBits <= bBits ? b.match(a, aBits) : a.match(b, bBits);

/** The special-purpose blocks (ipaddr.js `SpecialRanges`) a block touches, by name. */
function specialBlocksTouched(block: Block): { name: string; range: string; contains: boolean }[] {
  const touched: { name: string; range: string; contains: boolean }[] = [];
  // The IANA special-purpose table ipaddr.js classifies addresses by (its typings omit it).
  const ranges = (ipaddr.IPv4.prototype as unknown as { SpecialRanges: Record<string, Block | Block[]> })
    .SpecialRanges;
  for (const [name, value] of Object.entries(ranges)) {
    const list = (Array.isArray(value[0]) ? value : [value]) as Block[];
    for (const special of list) {
      if (!overlaps(block, special)) continue;
      const [, specialBits] = special;
      touched.push({
        name,
        range: `${special[0].toString()}/${specialBits}`,
        contains: block[1] >= specialBits,
      });
    }
  }
  return touched;
}

/**
 * What one CIDR is (`public` or `private`), or why no link may have it.
 *
 * @example
 * classifyCidr('18.0.35.117/32'); // { kind: 'public' }
 * classifyCidr('10.0.0.0/24'); // { kind: 'private' }
 * classifyCidr('10.0.0.1/8'); // { problem: "… did you mean 10.0.0.0/8?" }
 */
export function classifyCidr(cidr: string): { readonly kind: CidrKind } | { readonly problem: string } {
  if (!ipaddr.IPv4.isValidCIDR(cidr) || !ipaddr.IPv4.isValidFourPartDecimal(cidr.split('/')[0] ?? '')) {
    return { problem: `${cidr} is not an IPv4 CIDR block` };
  }
  const block = ipaddr.IPv4.parseCIDR(cidr) as Block;
  const network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
  if (network !== block[0].toString()) {
    return {
      problem: `${cidr} has host bits set; EC2 would store it as ${network}/${block[1]}: write it so (did you mean ${network}/${block[1]}?)`,
    };
  }
  const touched = specialBlocksTouched(block);
  const refused = touched.find((t) => !PRIVATE_RANGE_NAMES.has(t.name));
  if (refused) {
    return {
      problem:
        block[1] === 0
          ? `${cidr} is every address; a link lets in named sources only`
          : `${cidr} ${refused.contains ? 'is in' : 'overlaps'} ${refused.range} (${describe(refused.name)}), which no link may let in`,
    };
  }
  if (touched.length === 0) return { kind: 'public' };
  const partial = touched.find((t) => !t.contains);
  if (partial) {
    return {
      problem: `${cidr} spans the private range ${partial.range} and public addresses; ask for each part on its own`,
    };
  }
  return { kind: 'private' };
}

function describe(name: string): string {
  const words: Record<string, string> = {
    unspecified: 'the unspecified block',
    broadcast: 'broadcast',
    multicast: 'multicast',
    linkLocal: 'link-local',
    loopback: 'loopback',
    reserved: 'reserved or documentation space',
    as112: 'AS112 DNS service space',
    amt: 'AMT relay space',
  };
  return words[name] ?? name;
}

/**
 * Every rule a link's CIDRs break, each with its index: the kind of each CIDR, the widest
 * prefix, the count per link, and no CIDR inside another of the same list.
 *
 * @example
 * cidrProblems(['0.0.0.0/0', '18.0.35.0/24']); // [{ index: 0, message: '0.0.0.0/0 is every address; …' }]
 */
export function cidrProblems(
  cidrs: readonly string[],
  guardrails: CidrGuardrails = DEFAULT_CIDR_GUARDRAILS,
): CidrProblem[] {
  const problems: CidrProblem[] = [];
  if (cidrs.length > guardrails.maxCidrsPerLink) {
    problems.push({
      index: guardrails.maxCidrsPerLink,
      message: `a link may let in at most ${guardrails.maxCidrsPerLink} CIDRs; this one asks for ${cidrs.length}`,
    });
  }
  const valid: { index: number; block: Block; cidr: string }[] = [];
  cidrs.forEach((cidr, index) => {
    const verdict = classifyCidr(cidr);
    if ('problem' in verdict) {
      problems.push({ index, message: verdict.problem });
      return;
    }
    const block = ipaddr.IPv4.parseCIDR(cidr) as Block;
    if (block[1] < guardrails.widestPrefix) {
      problems.push({
        index,
        message: `${cidr} is wider than /${guardrails.widestPrefix}, the widest block a link may let in`,
      });
      return;
    }
    valid.push({ index, block, cidr });
  });
  for (const inner of valid) {
    const outer = valid.find(
      (o) => o !== inner && o.block[1] <= inner.block[1] && overlaps(o.block, inner.block),
    );
    if (outer && (outer.block[1] < inner.block[1] || outer.index < inner.index)) {
      problems.push({
        index: inner.index,
        message: `${inner.cidr} is inside ${outer.cidr} of the same list`,
      });
    }
  }
  return problems.sort((a, b) => a.index - b.index);
}

/** Whether any of the CIDRs is a private range (RFC 1918 or CGNAT): reachable only over private connectivity. */
export function hasPrivateRanges(cidrs: readonly string[]): boolean {
  return cidrs.some((cidr) => {
    const verdict = classifyCidr(cidr);
    return 'kind' in verdict && verdict.kind === 'private';
  });
}
