/**
 * Hostile values and mutations of valid request bodies: wrong types, huge strings, unicode,
 * injection strings, unknown fields at every level, missing fields, deep nesting, huge
 * numbers; and raw-text mutations JSON.stringify cannot express (duplicated keys, truncated
 * JSON, invalid UTF-8, `__proto__` keys).
 */
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have hurt other systems: SQL, paths, templates, markup, header splitting. */
export const INJECTION_STRINGS = [
  "'; DROP TABLE links; --",
  '" OR "1"="1',
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell lookup, on purpose
  '${jndi:ldap://127.0.0.1:1389/a}',
  '<script>alert(1)</script>',
  '%00',
  'name%00.txt',
  '\r\nX-Injected: 1',
  '{{7*7}}',
  '$(id)',
  '`id`',
  '__proto__',
  'constructor',
  'toString',
  'system:masters',
  'arn:aws:iam::111111111111:role/admin',
  '*',
  '',
  ' ',
] as const;

/** Unicode that trips up naive handling: emoji, RTL override, NUL, lone surrogates, BOM. */
export const UNICODE_STRINGS = [
  '🦄',
  'kubeai-🦄',
  '\u202Eevil',
  'مرحبا',
  'עברית',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF',
  'x\uDBFFy',
  '\uFEFF',
  'e\u0301',
  'ǅ',
  '\u2028\u2029',
  'ｋｕｂｅ',
  'ﬁ',
] as const;

export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 10_000, max: 100_000 }), fc.constantFrom('a', '0', '-', '🦄', 'é', '\u0000'))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)));

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INJECTION_STRINGS) },
  { weight: 3, arbitrary: fc.constantFrom(...UNICODE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: hugeString },
);

export const hugeNumber: fc.Arbitrary<number> = fc.constantFrom(
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER - 2,
  5e-324,
  -0,
  0.5,
  2 ** 64,
  111111111111,
);

/** A value nested `depth` levels deep, as arrays or objects. */
export function nested(depth: number, asObject: boolean): Json {
  let value: Json = 'x';
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  return value;
}

const deep: fc.Arbitrary<Json> = fc
  .tuple(fc.integer({ min: 2, max: 400 }), fc.boolean())
  .map(([depth, asObject]) => nested(depth, asObject));

/** A value of the wrong type (or a hostile one of any type). */
export const wrongValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  hugeNumber,
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }) as fc.Arbitrary<Json>,
  nastyString,
  deep,
);

/** Keys a closed object must refuse (including prototype-polluting names). */
export const unknownKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'color',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'hasOwnProperty',
    '',
    ' ',
    'Source',
    'targets ',
    '$ref',
    '🦄',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** Every location in a JSON value, as the keys that lead to it (the root is `[]`). */
export function locations(value: Json, at: (string | number)[] = []): (string | number)[][] {
  const found = [at];
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) found.push(...locations(item, [...at, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) found.push(...locations(item, [...at, key]));
  }
  return found;
}

function getAt(value: Json, path: readonly (string | number)[]): Json {
  return path.reduce<Json>((node, key) => (node as Record<string | number, Json>)[key] as Json, value);
}

/** A copy of `value` with the node at `path` replaced by `fn(node)` (`undefined` deletes it). */
export function updateAt(
  value: Json,
  path: readonly (string | number)[],
  fn: (node: Json) => Json | undefined,
): Json | undefined {
  if (path.length === 0) return fn(value);
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    const next = updateAt(copy[head as number] as Json, rest, fn);
    if (next === undefined) copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  const copy = { ...(value as Record<string, Json>) };
  const next = updateAt(copy[head as string] as Json, rest, fn);
  if (next === undefined) delete copy[head as string];
  else copy[head as string] = next;
  return copy;
}

export type Mutation =
  | { readonly op: 'replace'; readonly with: Json }
  | { readonly op: 'delete' }
  | { readonly op: 'addField'; readonly key: string; readonly with: Json }
  | { readonly op: 'repeatItem'; readonly times: number }
  | { readonly op: 'wrap' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: wrongValue.map((v) => ({ op: 'replace' as const, with: v })) },
  { weight: 2, arbitrary: fc.constant({ op: 'delete' as const }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(unknownKey, fc.oneof(fc.constant<Json>(true), wrongValue))
      .map(([key, v]) => ({ op: 'addField' as const, key, with: v })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 60 }).map((times) => ({ op: 'repeatItem' as const, times })),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'wrap' as const }) },
);

/** Applies a mutation at a location; the location index is taken modulo the number of locations. */
export function mutate(value: Json, where: number, m: Mutation): Json | undefined {
  const all = locations(value);
  const path = all[where % all.length] ?? [];
  return updateAt(value, path, (node) => {
    switch (m.op) {
      case 'replace':
        return m.with;
      case 'delete':
        return undefined;
      case 'addField':
        if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
          return { ...node, [m.key]: m.with };
        }
        return m.with;
      case 'repeatItem':
        if (Array.isArray(node)) return [...node, ...Array.from({ length: m.times }, () => node[0] ?? null)];
        return Array.from({ length: m.times }, () => node);
      case 'wrap':
        return [node];
    }
  });
}

/** Mutated copies of the values of `base`, one to three mutations each. */
export function mutated(base: fc.Arbitrary<Json>): fc.Arbitrary<Json | undefined> {
  return fc
    .tuple(base, fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }))
    .map(([value, steps]) => {
      let current: Json | undefined = value;
      for (const [where, m] of steps) {
        if (current === undefined) break;
        current = mutate(current, where, m);
      }
      return current;
    });
}

// ---- raw text ---------------------------------------------------------------------------

/** JSON text in which the object at location `where` repeats one of its keys. */
export function withDuplicateKey(value: Json, where: number, differentValue: boolean): string {
  const objects = locations(value).filter((p) => {
    const node = getAt(value, p);
    return node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0;
  });
  const target = objects[where % Math.max(1, objects.length)];
  const render = (node: Json, at: (string | number)[]): string => {
    if (Array.isArray(node)) return `[${node.map((item, i) => render(item, [...at, i])).join(',')}]`;
    if (node === null || typeof node !== 'object') return JSON.stringify(node);
    const entries = Object.entries(node).map(([k, v]) => `${JSON.stringify(k)}:${render(v, [...at, k])}`);
    if (target !== undefined && JSON.stringify(at) === JSON.stringify(target)) {
      const [key, v] = Object.entries(node)[0] as [string, Json];
      entries.push(
        `${JSON.stringify(key)}:${differentValue ? JSON.stringify('dup') : render(v, [...at, key])}`,
      );
    }
    return `{${entries.join(',')}}`;
  };
  return render(value, []);
}

/** Raw bodies: broken, ambiguous or hostile JSON text, from a valid body's text. */
export function rawBodies(
  base: fc.Arbitrary<Json>,
): fc.Arbitrary<{ label: string; body: string | Uint8Array }> {
  return fc.oneof(
    fc
      .tuple(base, fc.nat(), fc.boolean())
      .map(([v, where, diff]) => ({ label: 'duplicate key', body: withDuplicateKey(v, where, diff) })),
    fc.tuple(base, fc.nat()).map(([v, cut]) => {
      const text = JSON.stringify(v);
      return { label: 'truncated', body: text.slice(0, cut % text.length) };
    }),
    fc
      .constantFrom(
        '',
        ' ',
        'null',
        '[]',
        '{}',
        '"text"',
        '1',
        'true',
        '{',
        '}',
        '{"source":',
        "{'source': 1}",
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":1e400}',
        '{"a":123456789012345678901234567890}',
        '// comment\n{}',
        '{"__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '\u0000',
        '\uFEFF{}',
      )
      .map((body) => ({ label: 'odd text', body })),
    base.map((v) => ({ label: 'two documents', body: `${JSON.stringify(v)}${JSON.stringify(v)}` })),
    base.map((v) => ({ label: 'trailing garbage', body: `${JSON.stringify(v)} x` })),
    base.map((v) => ({
      label: '__proto__ key',
      body: JSON.stringify(v).replace(/^\{/, '{"__proto__":{"isAdmin":true},'),
    })),
    fc.integer({ min: 10, max: 40_000 }).map((n) => ({
      label: 'deep nesting',
      body: `${'['.repeat(n)}${']'.repeat(n)}`,
    })),
    fc.integer({ min: 10, max: 20_000 }).map((n) => ({
      label: 'deep object nesting',
      body: `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`,
    })),
    fc
      .tuple(
        base,
        fc.constantFrom([0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80]),
      )
      .map(([v, bad]) => ({
        label: 'invalid UTF-8',
        body: Buffer.concat([
          Buffer.from(JSON.stringify(v).slice(0, -1)),
          Buffer.from(bad),
          Buffer.from('}'),
        ]),
      })),
    fc
      .tuple(base, fc.integer({ min: 65_000, max: 200_000 }))
      .map(([v, n]) => ({ label: 'padded past 64 KiB', body: `${JSON.stringify(v)}${' '.repeat(n)}` })),
  );
}
