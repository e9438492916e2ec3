/**
 * Validation messages: Ajv's errors as one readable message per field, with its JSON Pointer
 * and what is allowed there (the schema's `x-allowed` words where it has them).
 */
import type { ErrorObject } from 'ajv';
import { ApiError, type FieldError } from '#api/problems';
import { type JsonSchema, resolveRef, SPEC_ID } from './spec';

export function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

// ---- validation messages ---------------------------------------------------------------

export function validationFailed(errors: FieldError[]): ApiError {
  const first = errors[0]?.message ?? 'The request is not valid.';
  const more =
    errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return new ApiError('VALIDATION_FAILED', `${first}${more}`, { errors });
}

/**
 * Ajv errors as one readable message per field: which field, and what is allowed there
 * (the schema's `x-allowed` words where it has them). Errors that only restate another
 * (a failed `if`, a discriminator's `oneOf`) are left out.
 */
export function fieldErrors(
  spec: JsonSchema,
  errors: readonly ErrorObject[] | null | undefined,
  where: NonNullable<FieldError['in']>,
  displayNames?: ReadonlyMap<string, string>,
): FieldError[] {
  const result: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    const described = describe(spec, error, where);
    if (described === undefined) continue;
    const path = where === 'body' ? described.pointer : described.pointer.replace(/^\//, '');
    const label = fieldLabel(described.pointer, where, displayNames);
    const message = `${label} ${described.text}`;
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ path, in: where, message });
  }
  return result;
}

function describe(
  spec: JsonSchema,
  error: ErrorObject,
  where: NonNullable<FieldError['in']>,
): { pointer: string; text: string } | undefined {
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  const allowed = typeof parent['x-allowed'] === 'string' ? parent['x-allowed'] : undefined;
  const at = error.instancePath;
  switch (error.keyword) {
    case 'if':
    case 'oneOf':
    case 'anyOf':
      return undefined;
    case 'required':
      return { pointer: `${at}/${escapePointer(String(params.missingProperty))}`, text: 'is required.' };
    case 'additionalProperties': {
      const properties = Object.keys((parent.properties ?? {}) as JsonSchema);
      const pointer = `${at}/${escapePointer(String(params.additionalProperty))}`;
      if (where === 'body') {
        const choices = properties.length > 0 ? `; allowed fields: ${properties.join(', ')}` : '';
        return { pointer, text: `is not an allowed field${choices}.` };
      }
      const choices = properties.length > 0 ? `; known parameters: ${properties.join(', ')}` : '';
      return { pointer, text: `is not a parameter of this operation${choices}.` };
    }
    case 'discriminator': {
      const tag = String(params.tag);
      if (params.error === 'tag') {
        // A missing tag is already reported by `required`.
        const data = error.data as Record<string, unknown> | undefined;
        if (typeof data !== 'object' || data === null || !(tag in data)) return undefined;
        return { pointer: `${at}/${tag}`, text: 'must be a string.' };
      }
      const choices = discriminatorChoices(spec, error);
      return { pointer: `${at}/${tag}`, text: `must be one of: ${choices.join(', ')}.` };
    }
    case 'enum':
      // A long list (Regions) reads better as the schema's own words, where it has them.
      if (allowed !== undefined) return { pointer: at, text: `must be ${allowed}.` };
      return {
        pointer: at,
        text: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}.`,
      };
    case 'const':
      return { pointer: at, text: `must be ${JSON.stringify(params.allowedValue)}.` };
    case 'type':
      return { pointer: at, text: `must be ${article(String(params.type))}.` };
    case 'minItems':
      return {
        pointer: at,
        text: `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}.`,
      };
    case 'maxItems':
      return { pointer: at, text: `must have at most ${params.limit} item${params.limit === 1 ? '' : 's'}.` };
    case 'uniqueItems':
      return {
        pointer: at,
        text: `must not repeat an item (items ${params.j} and ${params.i} are the same).`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { pointer: at, text: allowed === undefined ? `${error.message}.` : `must be ${allowed}.` };
    case 'pattern':
    case 'format':
    case 'minLength':
    case 'maxLength':
    case 'not':
      if (allowed !== undefined) return { pointer: at, text: `must be ${allowed}.` };
      if (error.keyword === 'pattern') return { pointer: at, text: `must match ${String(params.pattern)}.` };
      return { pointer: at, text: `${error.message ?? 'is not valid'}.` };
    case 'false schema':
      return { pointer: at, text: 'is not allowed here.' };
    default:
      return { pointer: at, text: `${error.message ?? 'is not valid'}.` };
  }
}

function discriminatorChoices(spec: JsonSchema, error: ErrorObject): string[] {
  const parent = (error.parentSchema ?? {}) as JsonSchema;
  const tag = String((error.params as Record<string, unknown>).tag);
  const choices: string[] = [];
  for (const branch of (parent.oneOf ?? []) as JsonSchema[]) {
    const schema = resolveRef(spec, unprefixRef(branch)) as JsonSchema | undefined;
    const tagSchema = ((schema?.properties ?? {}) as Record<string, JsonSchema | undefined>)[tag];
    if (tagSchema?.const !== undefined) choices.push(String(tagSchema.const));
    if (Array.isArray(tagSchema?.enum)) choices.push(...tagSchema.enum.map(String));
  }
  return choices;
}

/** `{ $ref: 'tether:openapi#/x' }` → `{ $ref: '#/x' }`, so {@link resolveRef} can follow it. */
function unprefixRef(schema: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  return typeof ref === 'string' && ref.startsWith(`${SPEC_ID}#`)
    ? { $ref: ref.slice(SPEC_ID.length) }
    : schema;
}

function article(type: string): string {
  if (type === 'array' || type === 'object' || type === 'integer') return `an ${type}`;
  if (type === 'null') return 'null';
  return `a ${type}`;
}

function fieldLabel(
  pointer: string,
  where: NonNullable<FieldError['in']>,
  displayNames?: ReadonlyMap<string, string>,
): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (where === 'body') {
    if (parts.length === 0) return 'The request body';
    return parts.reduce(
      (label, part) => (/^\d+$/.test(part) ? `${label}[${part}]` : label === '' ? part : `${label}.${part}`),
      '',
    );
  }
  const name = parts[0] ?? '';
  const shown = displayNames?.get(name) ?? name;
  if (where === 'query') return `Query parameter '${shown}'`;
  if (where === 'header') return `Header '${shown}'`;
  return `Path parameter '${shown}'`;
}
