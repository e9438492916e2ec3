/**
 * The OpenAPI document as the router reads it: where it is, how its `$ref`s resolve, and the
 * JSON Schemas of an operation's parameters. The spec (`api/openapi.yaml`) is the source of
 * truth for validation; nothing here restates it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

// ---- compilation -----------------------------------------------------------------------

export type JsonSchema = Record<string, unknown>;

export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: JsonSchema;
}

export const SPEC_ID = 'tether:openapi';

/** The spec's path: the argument, else `TETHER_OPENAPI_PATH`, else `api/openapi.yaml` of this repository. */
export function resolveSpecPath(specPath?: string): string {
  if (specPath !== undefined && specPath !== '') return specPath;
  const fromEnv = process.env.TETHER_OPENAPI_PATH;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return fileURLToPath(new URL('../../../api/openapi.yaml', import.meta.url));
}

export function resolveRef(spec: Record<string, unknown>, value: unknown): unknown {
  let current = value;
  for (let hops = 0; hops < 16; hops++) {
    const ref = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) return current;
    current = ref
      .slice(2)
      .split('/')
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], spec);
    if (current === undefined) throw new Error(`OpenAPI: unresolved $ref ${ref}`);
  }
  throw new Error('OpenAPI: $ref chain too long');
}

/** Operation parameters replace path-item parameters of the same name and location. */
export function mergeParameters(shared: ParameterObject[], own: ParameterObject[]): ParameterObject[] {
  const key = (p: ParameterObject) => `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
  const merged = new Map(shared.map((p) => [key(p), p]));
  for (const p of own) merged.set(key(p), p);
  return [...merged.values()];
}

/** JSON Schema for an object of parameters; `$ref`s point into the spec. */
export function parametersSchema(params: ParameterObject[], lowerCase: boolean, open: boolean): JsonSchema {
  const name = (p: ParameterObject) => (lowerCase ? p.name.toLowerCase() : p.name);
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [name(p), absolutize(p.schema ?? {})])),
    required: params.filter((p) => p.required === true || p.in === 'path').map(name),
    additionalProperties: open,
  };
}

/** Rewrites local `$ref`s (`#/components/…`) to point into the spec added as {@link SPEC_ID}. */
export function absolutize(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absolutize);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${SPEC_ID}${v}` : absolutize(v),
    ]),
  );
}

/** The parsed OpenAPI document at a path. */
export function loadSpec(path: string): Record<string, unknown> {
  return parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
}
