/**
 * What a service handler gets: the (draft) state, the authenticated caller, the region,
 * and helpers for deterministic ids and tags. Handlers validate first and mutate after;
 * `Sandbox.invoke` also runs mutating calls on a copy, so a failed call changes nothing.
 */
import { SandboxError } from './errors';
import { type AccountState, type SandboxState, sha256Hex, type TagState } from './state';

/** The principal behind an access key. */
export interface Caller {
  readonly accountId: string;
  /** What GetCallerIdentity returns as `Arn` (root or `arn:aws:sts::…:assumed-role/…`). */
  readonly arn: string;
  /** What `aws:PrincipalArn` holds: the root ARN or the role ARN (with path). */
  readonly principalArn: string;
  /** What GetCallerIdentity returns as `UserId`. */
  readonly userId: string;
  readonly kind: 'root' | 'role-session' | 'anonymous';
  readonly roleName?: string;
  readonly sessionName?: string;
  /** The session's `SourceIdentity`, when AssumeRole set one. */
  readonly sourceIdentity?: string;
  /** The session came from a role (role chaining: at most one hour). */
  readonly chained: boolean;
  /** The session's tags, the `aws:PrincipalTag/…` keys of its requests. */
  readonly sessionTags?: Readonly<Record<string, string>>;
  /** The keys of {@link sessionTags} that pass on when this session assumes another role. */
  readonly transitiveTagKeys?: readonly string[];
}

/** The context of one call. */
export interface OpContext {
  /** The state to read and change (a draft copy for mutating calls). */
  readonly state: SandboxState;
  /** The caller's account. */
  readonly account: AccountState;
  readonly caller: Caller;
  readonly region: string;
  /** The number of this call since the sandbox was first seeded (IAM eventual consistency). */
  readonly clock: number;
  /**
   * IAM eventual consistency: true if this use of `role` by `use` (an operation name, or
   * `read` for IAM's own read-after-write lag) must fail as "not yet propagated". Counts
   * the use, even though the call then fails.
   */
  notYetPropagated(role: { RoleId: string; createdAtCall: number }, use: string): boolean;
  /** A fresh deterministic hex string for an id of `kind`. */
  newHex(kind: string): string;
  /** The current time, ISO. */
  now(): string;
  /** Marks a read-only call as having changed internal state that must be saved. */
  markDirty(): void;
}

/** A handler of one operation; input and output use the SDK v3 shapes. */
export type Handler = (
  ctx: OpContext,
  input: any,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** The operations of one service, by name (`CreateRole`, …). */
export type Operations = Readonly<Record<string, Handler>>;

/** A deterministic hex string from the state's id counter. */
export function nextHex(state: SandboxState, kind: string): string {
  state.seq += 1;
  return sha256Hex(`${kind}:${state.seq}`);
}

/** Throws a ValidationError-style error unless `value` is a non-empty string. */
export function requireString(value: unknown, name: string, code = 'ValidationError'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new SandboxError(
      code,
      `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

/** Merges `add` into `tags` (same key → new value), returning a new array. */
export function mergeTags(
  tags: readonly TagState[],
  add: readonly { Key?: string; Value?: string }[] | undefined,
): TagState[] {
  const out = tags.map((t) => ({ ...t }));
  for (const t of add ?? []) {
    if (typeof t.Key !== 'string') throw new SandboxError('ValidationError', 'Tag keys must be strings');
    const existing = out.find((o) => o.Key === t.Key);
    if (existing) existing.Value = t.Value ?? '';
    else out.push({ Key: t.Key, Value: t.Value ?? '' });
  }
  return out;
}

/** `tags` without the given keys. */
export function removeTags(tags: readonly TagState[], keys: readonly string[] | undefined): TagState[] {
  const drop = new Set(keys ?? []);
  return tags.filter((t) => !drop.has(t.Key)).map((t) => ({ ...t }));
}

/** A deep copy of JSON-able data (outputs never share objects with the state). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Counts characters other than whitespace (how IAM sizes policies: docs/aws-facts.md#iam). */
export function nonWhitespaceLength(text: string): number {
  return text.replace(/\s+/g, '').length;
}

/** Paginates `items` with a numeric string token. */
export function paginate<T>(
  items: readonly T[],
  token: unknown,
  max: unknown,
  defaultMax: number,
): { page: T[]; next?: string } {
  const start = typeof token === 'string' && /^\d+$/.test(token) ? Number(token) : 0;
  const size = typeof max === 'number' && max > 0 ? max : defaultMax;
  const page = items.slice(start, start + size);
  const next = start + size < items.length ? String(start + size) : undefined;
  return next === undefined ? { page } : { page, next };
}
