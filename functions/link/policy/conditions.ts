/**
 * Every condition operator IAM documents (IAM JSON policy elements: Condition operators;
 * Single-valued vs. multivalued context keys): String, Numeric, Date, Bool, Binary, IP
 * address and ARN operators, their `IfExists` forms, the `ForAllValues`/`ForAnyValue` set
 * operators and `Null`. A `Condition` element answers `true`, `false`, or unknown with the
 * operator or value it could not judge.
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  all,
  any,
  arnMatch,
  type ConditionEnv,
  globOf,
  isRecord,
  isUnknown,
  not,
  type Part,
  type Resolved,
  resolve,
  type Tri,
  textOf,
  type Unknown,
  unknown,
} from './match';

/** How one operator family compares a policy value with a request value. */
type Compare = (policy: readonly Part[], request: string) => Tri;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function numberOf(text: string): number | undefined {
  return NUMBER.test(text.trim()) ? Number(text) : undefined;
}

// W3C profile of ISO 8601 (what IAM's Date operators take), or epoch seconds.
const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

/** Milliseconds since the epoch of an IAM date value; undefined if it is none. */
export function dateOf(text: string): number | undefined {
  // Four digits or fewer could be a W3C year or epoch seconds: not a guess to make.
  if (/^\d{1,4}$/.test(text)) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  // Date.UTC rolls 2024-02-30 over to March: a value that does not round-trip is not a date.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const offset =
    zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)));
  return ms + Math.round(Number(`0${frac}`) * 1000) - offset * 60_000;
}

/** An IP address as a number and its width (32 or 128 bits). */
type Ip = { readonly value: bigint; readonly bits: 32 | 128 };

function ipv4Of(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Parses an address `node:net` calls valid (no zone index). */
export function ipOf(text: string): Ip | undefined {
  if (isIPv4(text)) return { value: ipv4Of(text), bits: 32 };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  const hex = tail
    ? `${text.slice(0, -tail.length)}${(ipv4Of(tail) >> 16n).toString(16)}:${(ipv4Of(tail) & 0xffffn).toString(16)}`
    : text;
  const [head = '', back] = hex.split('::');
  const left = head ? head.split(':') : [];
  const right = back ? back.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n), bits: 128 };
}

/** `address/prefix`, or a bare address (IAM: "/32" by default; "/128" for IPv6). */
function cidrOf(text: string): { net: Ip; prefix: number } | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const net = ipOf(address);
  if (!net || extra !== undefined) return undefined;
  if (prefixText === undefined) return { net, prefix: net.bits };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > net.bits) return undefined;
  return { net, prefix: Number(prefixText) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const typed =
  <T>(kind: string, parse: (s: string) => T | undefined, test: (p: T, r: T) => boolean): Compare =>
  (policy, request) => {
    const p = parse(textOf(policy));
    if (p === undefined) return unknown(`'${textOf(policy)}' is not a valid ${kind}`);
    const r = parse(request);
    if (r === undefined) return unknown(`the request value '${request}' is not a valid ${kind}`);
    return test(p, r);
  };

const boolOf = (s: string): boolean | undefined =>
  s.toLowerCase() === 'true' ? true : s.toLowerCase() === 'false' ? false : undefined;

const stringEquals: Compare = (p, r) => textOf(p) === r;
const stringEqualsIgnoreCase: Compare = (p, r) => textOf(p).toLowerCase() === r.toLowerCase();
const stringLike: Compare = (p, r) => globOf(p).test(r);
const arnLike: Compare = (p, r) => arnMatch(p, r);
// The request value against the policy value: "less than" means the request's is less.
type Order = (policy: number, request: number) => boolean;
const eq: Order = (p, r) => r === p;
const lt: Order = (p, r) => r < p;
const le: Order = (p, r) => r <= p;
const gt: Order = (p, r) => r > p;
const ge: Order = (p, r) => r >= p;
const numeric = (test: Order) => typed('number', numberOf, test);
const date = (test: Order) => typed('date', dateOf, test);
const bool = typed('boolean', boolOf, (p, r) => p === r);
const ipAddress: Compare = (p, r) => {
  const cidr = cidrOf(textOf(p));
  if (!cidr) return unknown(`'${textOf(p)}' is not an IP address or CIDR range`);
  const ip = ipOf(r.trim());
  if (!ip) return unknown(`the request value '${r}' is not an IP address`);
  if (ip.bits !== cidr.net.bits) return false; // an IPv4 address is never in an IPv6 range, nor the reverse
  const shift = BigInt(cidr.net.bits - cidr.prefix);
  return ip.value >> shift === cidr.net.value >> shift;
};
const binaryEquals: Compare = typed(
  'base-64 value',
  (s) => (BASE64.test(s) ? Buffer.from(s, 'base64') : undefined),
  (p, r) => p.equals(r),
);

/** A documented operator: how it compares, whether it is negated, whether it takes policy variables. */
interface Operator {
  readonly compare: Compare;
  readonly negated: boolean;
  readonly variables: boolean;
}

const op = (compare: Compare, negated: boolean, variables: boolean): Operator => ({
  compare,
  negated,
  variables,
});

/**
 * Every condition operator IAM documents, before a set qualifier or `IfExists`. Variables:
 * String and ARN operators (IAM Variables and tags). `Bool` is left out of that list
 * because the two IAM pages disagree about it: a variable there is unknown.
 */
const OPERATORS: Readonly<Record<string, Operator>> = {
  StringEquals: op(stringEquals, false, true),
  StringNotEquals: op(stringEquals, true, true),
  StringEqualsIgnoreCase: op(stringEqualsIgnoreCase, false, true),
  StringNotEqualsIgnoreCase: op(stringEqualsIgnoreCase, true, true),
  StringLike: op(stringLike, false, true),
  StringNotLike: op(stringLike, true, true),
  NumericEquals: op(numeric(eq), false, false),
  NumericNotEquals: op(numeric(eq), true, false),
  NumericLessThan: op(numeric(lt), false, false),
  NumericLessThanEquals: op(numeric(le), false, false),
  NumericGreaterThan: op(numeric(gt), false, false),
  NumericGreaterThanEquals: op(numeric(ge), false, false),
  DateEquals: op(date(eq), false, false),
  DateNotEquals: op(date(eq), true, false),
  DateLessThan: op(date(lt), false, false),
  DateLessThanEquals: op(date(le), false, false),
  DateGreaterThan: op(date(gt), false, false),
  DateGreaterThanEquals: op(date(ge), false, false),
  Bool: op(bool, false, false),
  BinaryEquals: op(binaryEquals, false, false),
  IpAddress: op(ipAddress, false, false),
  NotIpAddress: op(ipAddress, true, false),
  ArnEquals: op(arnLike, false, true), // IAM: ArnEquals and ArnLike behave identically
  ArnLike: op(arnLike, false, true),
  ArnNotEquals: op(arnLike, true, true),
  ArnNotLike: op(arnLike, true, true),
};

/** A parsed operator name: `[ForAllValues:|ForAnyValue:]Base[IfExists]`. */
type ParsedOperator = {
  readonly base: string;
  readonly set?: 'ForAllValues' | 'ForAnyValue';
  readonly ifExists: boolean;
};

function parseOperator(name: string): ParsedOperator | Unknown {
  const [qualifier, rest, extra] = name.includes(':') ? name.split(':') : [undefined, name];
  if (extra !== undefined || rest === undefined)
    return unknown(`condition operator '${name}' is not one IAM documents`);
  if (qualifier !== undefined && qualifier !== 'ForAllValues' && qualifier !== 'ForAnyValue') {
    return unknown(`set operator '${qualifier}' in '${name}' is not one IAM documents`);
  }
  const ifExists = rest.endsWith('IfExists') && rest !== 'IfExists';
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  if (base !== 'Null' && !Object.hasOwn(OPERATORS, base))
    return unknown(`condition operator '${name}' is not one IAM documents`);
  if (base === 'Null' && (ifExists || qualifier)) {
    return unknown(`'${name}': IAM documents Null alone, without IfExists or a set operator`);
  }
  return { base, ifExists, ...(qualifier ? { set: qualifier } : {}) };
}

/** A condition value as IAM stores it: JSON strings, numbers and booleans all compare as text. */
const scalarText = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

/** Why a `Condition` element is not shaped as IAM's grammar says, or undefined if it is. */
export function conditionShapeProblem(block: unknown): string | undefined {
  if (!isRecord(block)) return 'Condition is not an object';
  for (const [operator, keys] of Object.entries(block)) {
    if (!isRecord(keys) || Object.keys(keys).length === 0)
      return `Condition '${operator}' is not a map of keys`;
    for (const [key, value] of Object.entries(keys)) {
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.some((v) => scalarText(v) === undefined)) {
        return `Condition '${operator}' on '${key}' holds no value, or one that is not a string, number or boolean`;
      }
    }
  }
  return undefined;
}

/**
 * One request value against the policy values of one operator: the values are ORed; a
 * negated operator is true when none matches (IAM: "negated matching").
 */
function singleValue(operator: Operator, policy: readonly Resolved[], request: string): Tri {
  const matches = policy.map((r): Tri => {
    if ('cannotEvaluate' in r) return r;
    // A value naming an absent key matches nothing; under a negated operator that would
    // turn into a match, and IAM only says such a statement "might be invalid".
    if ('never' in r) return operator.negated ? unknown(`${r.never}, under a negated operator`) : false;
    return operator.compare(r.parts, request);
  });
  const matched = any(matches);
  return operator.negated ? not(matched) : matched;
}

/** One operator on one key. */
function keyHolds(parsed: ParsedOperator, key: string, raw: readonly string[], env: ConditionEnv): Tri {
  const state = env.context.lookup(key);
  if (state.kind === 'unknown') return unknown(state.reason);
  if (parsed.base === 'Null') {
    const wanted = raw.map(boolOf);
    if (wanted.some((w) => w === undefined)) return unknown('Null takes only true or false');
    return wanted.includes(state.kind === 'absent');
  }
  const operator = OPERATORS[parsed.base] as Operator;
  if (state.kind === 'absent') {
    if (parsed.ifExists) return true;
    if (parsed.set === 'ForAllValues') return true; // IAM: true when the key is missing or empty
    if (parsed.set === 'ForAnyValue') return false;
    return operator.negated; // IAM: a missing key matches nothing, so a negated operator holds
  }
  const policy = raw.map((v): Resolved => {
    if (!operator.variables && env.variables && v.includes('${')) {
      return unknown(`the operator does not take policy variables ('${v}')`);
    }
    return resolve(v, env.context, operator.variables && env.variables);
  });
  if (parsed.set === undefined) {
    if (state.kind === 'multi') {
      // IAM: "Multivalued context keys require a condition set operator"; guessing how a
      // plain operator treats several values could grant or skip a Deny.
      return unknown('the key has several values, so IAM needs ForAllValues or ForAnyValue');
    }
    return singleValue(operator, policy, state.value);
  }
  const values = state.kind === 'single' ? [state.value] : state.values;
  const each = values.map((v) => singleValue(operator, policy, v));
  return parsed.set === 'ForAllValues' ? all(each) : any(each);
}

/**
 * Judges a `Condition` element: every operator, and every key under it, must hold
 * (IAM ANDs them); the values of one key are ORed.
 */
export function conditionHolds(block: Readonly<Record<string, unknown>>, env: ConditionEnv): Tri {
  return all(
    (function* () {
      for (const [name, keys] of Object.entries(block)) {
        const parsed = parseOperator(name);
        if ('cannotEvaluate' in parsed) {
          yield parsed;
          continue;
        }
        for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
          const raw = (Array.isArray(value) ? value : [value]).map((v) => scalarText(v) ?? '');
          const holds = keyHolds(parsed, key, raw, env);
          yield isUnknown(holds) ? unknown(`${name} on '${key}': ${holds.cannotEvaluate}`) : holds;
        }
      }
    })(),
  );
}
