/**
 * The guardrails on a link's explicit CIDRs (`#link/cidrs`), which no policy lifts: canonical
 * blocks only, public unicast or private ranges, never special-purpose space, no wider than
 * the configured prefix, no block inside another, at most the configured count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrProblems, classifyCidr, DEFAULT_CIDR_GUARDRAILS, hasPrivateRanges } from '#link/cidrs';

describe('classifyCidr', () => {
  it.each([
    ['18.0.35.117/32', 'public'],
    ['52.94.76.0/24', 'public'],
    ['18.0.0.0/8', 'public'],
    ['10.0.0.0/8', 'private'],
    ['10.20.30.0/24', 'private'],
    ['172.16.5.0/24', 'private'],
    ['192.168.1.0/24', 'private'],
    ['100.64.0.0/10', 'private'],
    ['100.64.7.0/24', 'private'],
  ])('takes %s as %s', (cidr, kind) => {
    // Act
    const verdict = classifyCidr(cidr);

    // Assert
    expect(verdict).toEqual({ kind });
  });

  it.each([
    ['every address', '0.0.0.0/0', /every address/],
    ['the unspecified block', '0.0.0.0/8', /unspecified/],
    ['loopback', '127.0.0.1/32', /loopback/],
    ['link-local (the instance metadata service)', '169.254.169.254/32', /link-local/],
    ['multicast', '224.0.0.0/24', /multicast/],
    ['broadcast', '255.255.255.255/32', /broadcast/],
    ['documentation space', '203.0.113.0/24', /reserved or documentation/],
    ['benchmarking space', '198.18.0.0/24', /reserved or documentation/],
    ['the class E block', '240.0.0.0/24', /reserved/],
    ['a block overlapping special space', '192.0.0.0/2', /overlaps .* which no link may let in/],
    [
      'a block spanning a private range and public space',
      '8.0.0.0/6',
      /spans the private range 10\.0\.0\.0\/8/,
    ],
  ])('refuses %s: %s', (_case, cidr, message) => {
    // Act
    const verdict = classifyCidr(cidr);

    // Assert
    expect(verdict).toEqual({ problem: expect.stringMatching(message) });
  });

  it.each([
    ['10.0.0.1/8', '10.0.0.0/8'],
    ['18.0.35.117/24', '18.0.35.0/24'],
    ['100.64.0.1/10', '100.64.0.0/10'],
  ])('refuses %s, which EC2 would store as %s, and says so', (cidr, canonical) => {
    // Act
    const verdict = classifyCidr(cidr);

    // Assert
    expect(verdict).toEqual({ problem: expect.stringContaining(`did you mean ${canonical}?`) });
  });

  it('refuses what is no IPv4 CIDR block', () => {
    expect(classifyCidr('10.0.0.0')).toEqual({ problem: expect.stringMatching(/not an IPv4 CIDR/) });
    expect(classifyCidr('010.0.0.0/8')).toEqual({ problem: expect.stringMatching(/not an IPv4 CIDR/) });
    expect(classifyCidr('10.0.0.0/33')).toEqual({ problem: expect.stringMatching(/not an IPv4 CIDR/) });
  });
});

describe('cidrProblems', () => {
  it('accepts public and private blocks within the prefix and the count', () => {
    expect(cidrProblems(['18.0.35.117/32', '52.94.76.0/24', '10.1.2.0/24'])).toEqual([]);
  });

  it.each([
    ['0.0.0.0/0', /every address/],
    ['10.0.0.0/8', /wider than \/24/],
    ['100.64.0.0/10', /wider than \/24/],
    ['18.0.0.0/8', /wider than \/24/],
    ['18.0.34.0/23', /wider than \/24/],
  ])('refuses %s with its index', (cidr, message) => {
    // Act
    const problems = cidrProblems(['18.0.35.117/32', cidr]);

    // Assert
    expect(problems).toEqual([{ index: 1, message: expect.stringMatching(message) }]);
  });

  it('refuses more CIDRs than a link may have, pointing at the first one too many', () => {
    // Arrange
    const cidrs = Array.from({ length: 21 }, (_, i) => `18.0.${i}.0/24`);

    // Act
    const problems = cidrProblems(cidrs);

    // Assert
    expect(problems).toEqual([{ index: 20, message: expect.stringMatching(/at most 20 CIDRs/) }]);
  });

  it('refuses a block inside another of the same list: one range, one rule', () => {
    // Act
    const problems = cidrProblems(['18.0.35.0/24', '18.0.35.117/32', '52.94.76.0/24']);

    // Assert
    expect(problems).toEqual([
      { index: 1, message: '18.0.35.117/32 is inside 18.0.35.0/24 of the same list' },
    ]);
  });

  it('follows the configured limits', () => {
    // Act
    const wide = cidrProblems(['18.0.0.0/16'], { widestPrefix: 16, maxCidrsPerLink: 1 });
    const many = cidrProblems(['18.0.0.0/16', '19.0.0.0/16'], { widestPrefix: 16, maxCidrsPerLink: 1 });

    // Assert
    expect(wide).toEqual([]);
    expect(many).toEqual([{ index: 1, message: expect.stringMatching(/at most 1 CIDRs/) }]);
  });

  it('lets through only canonical public or private blocks within the prefix (any IPv4 CIDR)', () => {
    // Arrange: any address, any prefix length.
    const cidr = fc
      .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }))
      .map(([n, bits]) => `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}/${bits}`);

    // Act / Assert
    fc.assert(
      fc.property(cidr, (c) => {
        const accepted = cidrProblems([c]).length === 0;
        const [address = '', bits = '0'] = c.split('/');
        const n = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
        const hostBits = 32 - Number(bits);
        const canonical = hostBits === 32 ? n === 0 : n % 2 ** hostBits === 0;
        const first = n >>> 24;
        if (accepted) {
          expect(canonical, c).toBe(true);
          expect(Number(bits), c).toBeGreaterThanOrEqual(DEFAULT_CIDR_GUARDRAILS.widestPrefix);
          // Never 0/8, loopback, link-local, multicast or class E.
          expect(
            [0, 127, 224, 240].some((b) => first >= b && first < b + (b >= 224 ? 16 : 1)),
            c,
          ).toBe(false);
          expect(address.startsWith('169.254.'), c).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hasPrivateRanges', () => {
  it('tells whether any block is RFC 1918 or CGNAT', () => {
    expect(hasPrivateRanges(['18.0.35.117/32'])).toBe(false);
    expect(hasPrivateRanges(['18.0.35.117/32', '100.64.3.0/24'])).toBe(true);
    expect(hasPrivateRanges(['192.168.0.0/24'])).toBe(true);
  });
});
