/**
 * Customer-managed prefix lists: create, modify (versioned, with optimistic concurrency on
 * `CurrentVersion`), read the entries of a version, describe, and delete (refused while a
 * rule references the list). Resizing a list counts against every security group whose
 * rules reference it.
 */
import { clone, type OpContext, type Operations, paginate, requireString } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import type { Ec2State, PrefixListState } from '#local/sandbox/state';
import { applyFilters, byIds, ec2Of, ids, notFound } from './resources';
import { checkRuleQuota, rulesPerGroup } from './security-groups';
import { specTags } from './tags';

/** Entries of one prefix list (docs/aws-facts.md#security-group-and-prefix-list-quotas). */
export const PREFIX_LIST_MAX_ENTRIES = 1000;
/** Entries `CreateManagedPrefixList` takes in one call (docs/aws-facts.md#security-group-and-prefix-list-quotas). */
export const PREFIX_LIST_ENTRIES_PER_CREATE = 100;
/** Customer-managed prefix lists per Region (docs/aws-facts.md#security-group-and-prefix-list-quotas). */
export const PREFIX_LISTS_PER_REGION = 100;

function prefixListOutput(ctx: OpContext, p: PrefixListState, state?: string): Record<string, unknown> {
  return {
    PrefixListId: p.PrefixListId,
    AddressFamily: p.AddressFamily,
    State: state ?? p.State,
    PrefixListArn: `arn:aws:ec2:${ctx.region}:${ctx.account.id}:prefix-list/${p.PrefixListId}`,
    PrefixListName: p.PrefixListName,
    MaxEntries: p.MaxEntries,
    Version: p.Version,
    Tags: clone(p.Tags),
    OwnerId: ctx.account.id,
  };
}

function prefixListOrThrow(ec2: Ec2State, id: unknown): PrefixListState {
  const p = typeof id === 'string' ? ec2.prefixLists[id] : undefined;
  if (!p) throw notFound('InvalidPrefixListID.NotFound', `The prefix list ID '${String(id)}' does not exist`);
  return p;
}

function entriesInput(entries: unknown): { Cidr: string; Description?: string }[] {
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) throw new SandboxError('InvalidParameterValue', 'Entries must be a list');
  return (entries as { Cidr?: string; Description?: string }[]).map((e) => {
    if (typeof e.Cidr !== 'string' || !/^[\da-fA-F:.]+\/\d{1,3}$/.test(e.Cidr)) {
      throw new SandboxError('InvalidParameterValue', `The CIDR '${String(e.Cidr)}' is invalid.`);
    }
    return e.Description !== undefined ? { Cidr: e.Cidr, Description: e.Description } : { Cidr: e.Cidr };
  });
}

/** The managed prefix list operations. */
export const prefixListOperations: Operations = {
  CreateManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const name = requireString(input.PrefixListName, 'PrefixListName', 'MissingParameter');
    const max = Number(input.MaxEntries);
    if (!Number.isInteger(max) || max < 1 || max > PREFIX_LIST_MAX_ENTRIES) {
      throw new SandboxError(
        'InvalidParameterValue',
        `MaxEntries must be between 1 and ${PREFIX_LIST_MAX_ENTRIES}`,
      );
    }
    const family =
      input.AddressFamily === 'IPv6' ? 'IPv6' : input.AddressFamily === 'IPv4' ? 'IPv4' : undefined;
    if (!family) throw new SandboxError('InvalidParameterValue', 'AddressFamily must be IPv4 or IPv6');
    const entries = entriesInput(input.Entries);
    if (entries.length > PREFIX_LIST_ENTRIES_PER_CREATE) {
      throw new SandboxError(
        'InvalidParameterValue',
        `You can specify at most ${PREFIX_LIST_ENTRIES_PER_CREATE} entries when creating a prefix list.`,
      );
    }
    if (entries.length > max)
      throw new SandboxError('InvalidParameterValue', 'The number of entries exceeds MaxEntries.');
    if (Object.keys(ec2.prefixLists).length >= PREFIX_LISTS_PER_REGION) {
      throw new SandboxError(
        'PrefixListLimitExceeded',
        'The maximum number of prefix lists has been reached.',
      );
    }
    const p: PrefixListState = {
      PrefixListId: ids('pl', ctx),
      PrefixListName: name,
      AddressFamily: family,
      MaxEntries: max,
      Version: 1,
      State: 'create-complete',
      Tags: specTags(input.TagSpecifications, 'prefix-list'),
      versions: { '1': entries },
    };
    ec2.prefixLists[p.PrefixListId] = p;
    return { PrefixList: prefixListOutput(ctx, p, 'create-in-progress') };
  },

  ModifyManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const p = prefixListOrThrow(ec2, input.PrefixListId);
    // Optimistic concurrency: a stale CurrentVersion means another change came first (docs/aws-facts.md#security-group-and-prefix-list-quotas).
    if (input.CurrentVersion !== undefined && Number(input.CurrentVersion) !== p.Version) {
      throw new SandboxError(
        'PrefixListVersionMismatch',
        'The prefix list has the incorrect version number.',
      );
    }
    const current = p.versions[String(p.Version)] ?? [];
    const remove = new Set(
      (Array.isArray(input.RemoveEntries) ? (input.RemoveEntries as { Cidr?: string }[]) : []).map((e) =>
        String(e.Cidr),
      ),
    );
    for (const c of remove) {
      if (!current.some((e) => e.Cidr === c))
        throw new SandboxError(
          'InvalidPrefixListModification',
          `The prefix list does not contain the CIDR ${c}.`,
        );
    }
    const next = current.filter((e) => !remove.has(e.Cidr));
    for (const e of entriesInput(input.AddEntries)) {
      const same = next.find((x) => x.Cidr === e.Cidr);
      if (same)
        throw new SandboxError(
          'InvalidPrefixListModification',
          `The prefix list already contains the CIDR ${e.Cidr}.`,
        );
      next.push(e);
    }
    const max = input.MaxEntries === undefined ? p.MaxEntries : Number(input.MaxEntries);
    if (!Number.isInteger(max) || max < 1 || max > PREFIX_LIST_MAX_ENTRIES) {
      throw new SandboxError(
        'InvalidParameterValue',
        `MaxEntries must be between 1 and ${PREFIX_LIST_MAX_ENTRIES}`,
      );
    }
    if (next.length > max)
      throw new SandboxError('InvalidParameterValue', 'The number of entries exceeds MaxEntries.');
    const changedEntries =
      remove.size > 0 || (Array.isArray(input.AddEntries) && input.AddEntries.length > 0);
    p.MaxEntries = max;
    // A resize counts against every group whose rules reference the list (docs/aws-facts.md#security-group-and-prefix-list-quotas).
    for (const gid of new Set(
      Object.values(ec2.securityGroupRules)
        .filter((r) => r.PrefixListId === p.PrefixListId)
        .map((r) => r.GroupId),
    )) {
      checkRuleQuota(ec2, gid, rulesPerGroup(ctx));
    }
    if (changedEntries) {
      p.Version += 1;
      p.versions[String(p.Version)] = next;
    }
    p.State = 'modify-complete';
    return { PrefixList: prefixListOutput(ctx, p, 'modify-in-progress') };
  },

  GetManagedPrefixListEntries: (ctx, input) => {
    const p = prefixListOrThrow(ec2Of(ctx), input.PrefixListId);
    const v = input.TargetVersion === undefined ? p.Version : Number(input.TargetVersion);
    const entries = p.versions[String(v)];
    if (!entries)
      throw new SandboxError('InvalidParameterValue', `The prefix list version ${v} does not exist.`);
    const { page, next } = paginate(entries, input.NextToken, input.MaxResults, 100);
    return { Entries: clone(page), ...(next ? { NextToken: next } : {}) };
  },

  DescribeManagedPrefixLists: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const all = byIds(ec2.prefixLists, input.PrefixListIds, 'InvalidPrefixListID.NotFound', 'prefix list ID');
    const lists = applyFilters(
      all,
      input.Filters,
      (p, name) =>
        ({
          'prefix-list-id': [p.PrefixListId],
          'prefix-list-name': [p.PrefixListName],
          'owner-id': [ctx.account.id],
        })[name],
    );
    return { PrefixLists: lists.map((p) => prefixListOutput(ctx, p)) };
  },

  DeleteManagedPrefixList: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const p = prefixListOrThrow(ec2, input.PrefixListId);
    if (Object.values(ec2.securityGroupRules).some((r) => r.PrefixListId === p.PrefixListId)) {
      throw new SandboxError(
        'PrefixListInUse',
        `The prefix list ${p.PrefixListId} is referenced by a security group rule.`,
      );
    }
    delete ec2.prefixLists[p.PrefixListId];
    return { PrefixList: prefixListOutput(ctx, p, 'delete-in-progress') };
  },
};
