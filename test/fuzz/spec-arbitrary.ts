/**
 * Arbitraries generated from `api/openapi.yaml`: a small JSON Schema → fast-check walker for
 * the keywords the spec's request schemas use ($ref, type, enum, const, not (const, pattern or
 * anyOf of those), pattern,
 * minLength/maxLength, minimum/maximum, minItems/maxItems, uniqueItems, required,
 * properties, additionalProperties false, oneOf + discriminator, if/then/else). Whatever it
 * generates is valid against the schema it walked.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';

export type JsonSchema = Record<string, unknown>;

export const SPEC_PATH = fileURLToPath(new URL('../../api/openapi.yaml', import.meta.url));

let cached: JsonSchema | undefined;

/** The parsed OpenAPI document. */
export function loadSpec(): JsonSchema {
  cached ??= parseYaml(readFileSync(SPEC_PATH, 'utf8')) as JsonSchema;
  return cached;
}

/** A named schema of `components.schemas`. */
export function schemaNamed(name: string): JsonSchema {
  const schemas = ((loadSpec().components as JsonSchema).schemas ?? {}) as Record<string, JsonSchema>;
  const schema = schemas[name];
  if (schema === undefined) throw new Error(`openapi.yaml has no schema ${name}`);
  return schema;
}

/** Follows a local `$ref` (`#/components/schemas/X`). */
export function resolveRef(ref: string): JsonSchema {
  if (!ref.startsWith('#/')) throw new Error(`Unsupported $ref ${ref}`);
  const node = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], loadSpec());
  if (node === undefined) throw new Error(`Unresolved $ref ${ref}`);
  return node as JsonSchema;
}

/** The schema name of a `#/components/schemas/<name>` ref. */
function refName(ref: string): string | undefined {
  return /^#\/components\/schemas\/([^/]+)$/.exec(ref)?.[1];
}

export interface WalkOptions {
  /** Arbitraries that stand for a named schema (`AccountId`, …) instead of the walk. */
  readonly replace?: Readonly<Record<string, fc.Arbitrary<unknown>>>;
  /** Properties forced onto every object of a named schema (`WorkloadRef`, …). */
  readonly merge?: Readonly<Record<string, fc.Arbitrary<Record<string, unknown>>>>;
  /** Uniqueness key for the items of the array at a JSON Pointer (`/targets`), on top of `uniqueItems`. */
  readonly uniqueBy?: Readonly<Record<string, (item: unknown) => string>>;
  /** Cap on array lengths, to keep requests small (the schema's `minItems` still wins). */
  readonly maxItems?: number;
}

/** The arbitrary of every value valid against `schema` (as far as the walker's keywords go). */
export function arbitraryFor(
  schema: JsonSchema,
  options: WalkOptions = {},
  pointer = '',
): fc.Arbitrary<unknown> {
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const name = refName(ref);
    const replaced = name === undefined ? undefined : options.replace?.[name];
    if (replaced !== undefined) return replaced;
    const walked = arbitraryFor(resolveRef(ref), options, pointer);
    const merged = name === undefined ? undefined : options.merge?.[name];
    if (merged === undefined) return walked;
    return fc
      .tuple(walked, merged)
      .map(([base, extra]) => ({ ...(base as Record<string, unknown>), ...extra }));
  }
  let arb = baseArbitrary(schema, options, pointer);
  const not = schema.not as JsonSchema | undefined;
  if (not !== undefined) {
    const matches = notMatcher(not, pointer);
    arb = arb.filter((v) => !matches(v));
  }
  return arb;
}

/** Whether a value matches the schema of a `not`: `const`, `pattern`, or `anyOf` of those. */
function notMatcher(not: JsonSchema, pointer: string): (v: unknown) => boolean {
  if ('const' in not) return (v) => JSON.stringify(v) === JSON.stringify(not.const);
  if (typeof not.pattern === 'string') {
    const pattern = new RegExp(not.pattern, 'u');
    return (v) => typeof v === 'string' && pattern.test(v);
  }
  if (Array.isArray(not.anyOf)) {
    const alternatives = (not.anyOf as JsonSchema[]).map((alt) => notMatcher(alt, pointer));
    return (v) => alternatives.some((m) => m(v));
  }
  throw new Error(`Unsupported 'not' at ${pointer}: ${JSON.stringify(not)}`);
}

function baseArbitrary(schema: JsonSchema, options: WalkOptions, pointer: string): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.oneOf)) {
    // With a discriminator each branch is a closed object with its own tag: branches never overlap.
    return fc.oneof(
      ...(schema.oneOf as JsonSchema[]).map((branch) => arbitraryFor(branch, options, pointer)),
    );
  }
  if (schema.if !== undefined) {
    // The spec's if/then/else (Access): `then` values satisfy `if`, `else` values do not.
    const branches = [schema.then, schema.else].filter((b): b is JsonSchema => b !== undefined);
    return fc.oneof(...branches.map((branch) => arbitraryFor(branch, options, pointer)));
  }
  switch (schema.type) {
    case 'string':
      return stringArbitrary(schema);
    case 'integer':
      return fc.integer({
        min: typeof schema.minimum === 'number' ? schema.minimum : -(2 ** 31),
        max: typeof schema.maximum === 'number' ? schema.maximum : 2 ** 31 - 1,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return arrayArbitrary(schema, options, pointer);
    case 'object':
      return objectArbitrary(schema, options, pointer);
    default:
      throw new Error(`Unsupported schema at ${pointer || '/'}: ${JSON.stringify(schema).slice(0, 200)}`);
  }
}

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : 256;
  if (typeof schema.pattern !== 'string') return fc.string({ minLength, maxLength });
  // Ajv compiles patterns with the `u` flag; so does the walker.
  const pattern = new RegExp(schema.pattern, 'u');
  return fc.stringMatching(pattern).filter((s) => s.length >= minLength && s.length <= maxLength);
}

function arrayArbitrary(schema: JsonSchema, options: WalkOptions, pointer: string): fc.Arbitrary<unknown[]> {
  const items = arbitraryFor((schema.items ?? {}) as JsonSchema, options, `${pointer}/items`);
  const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const declaredMax = typeof schema.maxItems === 'number' ? schema.maxItems : 10;
  const maxLength = Math.max(minLength, Math.min(declaredMax, options.maxItems ?? declaredMax));
  const by = options.uniqueBy?.[pointer];
  if (by !== undefined) return fc.uniqueArray(items, { minLength, maxLength, selector: by });
  if (schema.uniqueItems === true) {
    return fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) });
  }
  return fc.array(items, { minLength, maxLength });
}

function objectArbitrary(
  schema: JsonSchema,
  options: WalkOptions,
  pointer: string,
): fc.Arbitrary<Record<string, unknown>> {
  if (schema.additionalProperties !== false) {
    throw new Error(`The walker only makes closed objects; ${pointer || '/'} is open`);
  }
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    model[name] = arbitraryFor(property, options, `${pointer}/${name}`);
  }
  return fc.record(model, { requiredKeys: [...required].filter((k) => k in model) });
}

// ---- the request body of POST /links and POST /plans ------------------------------------

/** The schema of the onboarding request body, as the spec's `requestBodies` names it. */
export function onboardingRequestSchema(): JsonSchema {
  const body = resolveRef('#/components/requestBodies/OnboardingRequest');
  const content = (body.content as Record<string, JsonSchema>)['application/json'];
  const schema = content?.schema as JsonSchema | undefined;
  if (schema === undefined) throw new Error('OnboardingRequest has no application/json schema');
  return schema;
}

/** One target cluster of a request is one link: targets are unique by account/region/cluster. */
export const clusterKeyOf = (item: unknown): string => {
  const c = item as { accountId?: unknown; region?: unknown; cluster?: unknown };
  return `${String(c.accountId)}/${String(c.region)}/${String(c.cluster)}`;
};

const lower = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
const chars = (alphabet: readonly string[], minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });

/** A DNS-1123 label of `min`–`max` characters. */
const dnsLabel = (min: number, max: number) =>
  fc
    .tuple(fc.constantFrom(...lower), chars([...lower, '-'], min - 2, max - 2), fc.constantFrom(...lower))
    .map(([a, mid, z]) => `${a}${mid}${z}`);

/**
 * Names at the top of their length range (fast-check's patterns rarely reach it): the
 * boundary cases of name derivation. Any that the spec would refuse, the router refuses.
 */
export const LONG_NAMES: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  Namespace: dnsLabel(50, 63),
  ServiceAccountName: fc.array(dnsLabel(2, 63), { minLength: 3, maxLength: 6 }).map((labels) =>
    labels
      .join('.')
      .slice(0, 253)
      .replace(/[.-]+$/, ''),
  ),
  ClusterName: fc
    .tuple(fc.constantFrom(...lower), chars([...lower, ...'ABCXYZ_-'], 80, 99))
    .map(([a, rest]) => `${a}${rest}`),
};

/** Any body the spec accepts (any account, any names), targets unique by cluster. */
export function anyOnboardingRequest(maxItems = 4, longNames = false): fc.Arbitrary<Record<string, unknown>> {
  const walk = (replace?: Readonly<Record<string, fc.Arbitrary<unknown>>>) =>
    arbitraryFor(onboardingRequestSchema(), {
      uniqueBy: { '/targets': clusterKeyOf },
      maxItems,
      ...(replace === undefined ? {} : { replace }),
    }) as fc.Arbitrary<Record<string, unknown>>;
  return longNames ? fc.oneof(walk(), walk(LONG_NAMES)) : walk();
}

/** The clusters of the demo world (the cross-account IRSA runbook). */
export const DEMO_CLUSTERS = [
  { accountId: '111111111111', region: 'ap-southeast-1', cluster: 'cluster-a' },
  { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
  { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-c' },
  { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d' },
] as const;

/**
 * Spec-valid bodies restricted to the demo world's clusters, so that some are accepted.
 * Source namespaces and service accounts come mostly from a small pool (few distinct links,
 * so few workflows), sometimes from the spec's own patterns.
 */
export function demoOnboardingRequest(): fc.Arbitrary<Record<string, unknown>> {
  const cluster = fc.constantFrom(...DEMO_CLUSTERS).map((c) => ({ ...c }));
  const namespace = arbitraryFor({ $ref: '#/components/schemas/Namespace' });
  const serviceAccount = arbitraryFor({ $ref: '#/components/schemas/ServiceAccountName' });
  const pooled = (pool: readonly string[], spec: fc.Arbitrary<unknown>) =>
    fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: spec });
  const workload = fc
    .tuple(
      cluster,
      pooled(['kubeai-chatbot', 'default'], namespace),
      pooled(['kubeai-chatbot', 'sa.v1'], serviceAccount),
    )
    .map(([c, ns, sa]) => ({ ...c, namespace: ns, serviceAccount: sa }));
  return arbitraryFor(onboardingRequestSchema(), {
    merge: { WorkloadRef: workload, TargetRequest: cluster },
    uniqueBy: { '/targets': clusterKeyOf },
    maxItems: 3,
  }) as fc.Arbitrary<Record<string, unknown>>;
}
