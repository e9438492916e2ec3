/**
 * What every EC2 family shares: the region's EC2 state, fresh resource ids, the NotFound
 * errors, and how the Describe* calls find resources (a list of ids, then `Filters`).
 */
import type { OpContext } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import { type Ec2State, regionOf, type TagState } from '#local/sandbox/state';

type Filter = { Name?: string; Values?: string[] };

/** The EC2 state of the caller's account in the call's region. */
export function ec2Of(ctx: OpContext): Ec2State {
  return regionOf(ctx.account, ctx.region).ec2;
}

/** Applies EC2 `Filters`: `tag:<key>`, `tag-key` and the per-type fields `fields` gives. */
export function applyFilters<T extends { Tags: TagState[] }>(
  items: T[],
  filters: unknown,
  fields: (item: T, name: string) => (string | undefined)[] | undefined,
): T[] {
  if (!Array.isArray(filters)) return items;
  return items.filter((item) =>
    (filters as Filter[]).every((f) => {
      const name = f.Name ?? '';
      const wanted = f.Values ?? [];
      let values: (string | undefined)[] | undefined;
      if (name.startsWith('tag:'))
        values = item.Tags.filter((t) => t.Key === name.slice(4)).map((t) => t.Value);
      else if (name === 'tag-key') values = item.Tags.map((t) => t.Key);
      else values = fields(item, name);
      if (values === undefined)
        throw new SandboxError('InvalidParameterValue', `The filter '${name}' is invalid`);
      // EC2 filter values accept * and ? wildcards.
      return wanted.some((w) => {
        const re = new RegExp(
          `^${w
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
        );
        return values.some((v) => v !== undefined && re.test(v));
      });
    }),
  );
}

/** A fresh id of `kind` (`sg`, `nat`, `eipalloc`, …): the kind, a dash, `len` hex digits. */
export function ids(kind: string, ctx: OpContext, len = 17): string {
  return `${kind}-${ctx.newHex(kind).slice(0, len)}`;
}

/** A not-found error: EC2 answers 400 with a per-resource code (`InvalidGroup.NotFound`, …). */
export function notFound(code: string, message: string): SandboxError {
  return new SandboxError(code, message);
}

/** The items `wanted` names (all of them when it is empty), or `code` for the first id missing. */
export function byIds<T>(table: Record<string, T>, wanted: unknown, code: string, label: string): T[] {
  if (!Array.isArray(wanted) || wanted.length === 0) return Object.values(table);
  return (wanted as string[]).map((id) => {
    const item = table[id];
    if (!item) throw notFound(code, `The ${label} '${id}' does not exist`);
    return item;
  });
}
