/**
 * Tags on any EC2 resource: the `TagSpecifications` of the Create* calls, and CreateTags,
 * DeleteTags and DescribeTags, which find a resource by the prefix of its id.
 */
import { mergeTags, type Operations } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import type { Ec2State, TagState } from '#local/sandbox/state';
import { applyFilters, ec2Of, notFound } from './resources';

/** The tags of `TagSpecifications` for `resourceType`. */
export function specTags(specs: unknown, resourceType: string): TagState[] {
  if (!Array.isArray(specs)) return [];
  const tags = (specs as { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[])
    .filter((s) => s.ResourceType === resourceType)
    .flatMap((s) => s.Tags ?? []);
  return mergeTags([], tags);
}

/** The taggable resource `id` names (by its prefix). */
function taggable(ec2: Ec2State, id: string): { Tags: TagState[] } {
  const [prefix] = id.split('-');
  const table: Record<string, [Record<string, { Tags: TagState[] }>, string, string]> = {
    sgr: [
      ec2.securityGroupRules,
      'InvalidSecurityGroupRuleId.NotFound',
      `The security group rule ID '${id}' does not exist`,
    ],
    sg: [ec2.securityGroups, 'InvalidGroup.NotFound', `The security group '${id}' does not exist`],
    pl: [ec2.prefixLists, 'InvalidPrefixListID.NotFound', `The prefix list ID '${id}' does not exist`],
    nat: [ec2.natGateways, 'NatGatewayNotFound', `The Nat Gateway ${id} was not found`],
    eipalloc: [ec2.addresses, 'InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`],
    vpc: [ec2.vpcs, 'InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`],
    subnet: [ec2.subnets, 'InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`],
  };
  const entry = table[prefix ?? ''];
  if (!entry) throw new SandboxError('InvalidID', `The ID '${id}' is not valid`);
  const item = entry[0][id];
  if (!item) throw notFound(entry[1], entry[2]);
  return item;
}

/** CreateTags, DeleteTags and DescribeTags. */
export const tagOperations: Operations = {
  CreateTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const resources = Array.isArray(input.Resources) ? (input.Resources as string[]) : [];
    const items = resources.map((id) => taggable(ec2, id));
    for (const item of items) item.Tags = mergeTags(item.Tags, input.Tags);
    if (items.some((i) => i.Tags.length > 50))
      throw new SandboxError(
        'TagLimitExceeded',
        'The maximum number of tags for a resource (50) has been reached.',
      );
    return {};
  },

  DeleteTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const resources = Array.isArray(input.Resources) ? (input.Resources as string[]) : [];
    const spec = Array.isArray(input.Tags) ? (input.Tags as { Key?: string; Value?: string }[]) : undefined;
    for (const id of resources) {
      const item = taggable(ec2, id);
      if (!spec) item.Tags = [];
      else {
        // A tag given with a value is deleted only if the value matches.
        item.Tags = item.Tags.filter(
          (t) => !spec.some((s) => s.Key === t.Key && (s.Value === undefined || s.Value === t.Value)),
        );
      }
    }
    return {};
  },

  DescribeTags: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const rows: { Key: string; Value: string; ResourceId: string; ResourceType: string; Tags: TagState[] }[] =
      [];
    const add = (table: Record<string, { Tags: TagState[] }>, type: string) => {
      for (const [id, item] of Object.entries(table))
        for (const t of item.Tags) rows.push({ ...t, ResourceId: id, ResourceType: type, Tags: [] });
    };
    add(ec2.securityGroups, 'security-group');
    add(ec2.securityGroupRules, 'security-group-rule');
    add(ec2.prefixLists, 'prefix-list');
    add(ec2.natGateways, 'natgateway');
    add(ec2.addresses, 'elastic-ip');
    add(ec2.vpcs, 'vpc');
    add(ec2.subnets, 'subnet');
    const out = applyFilters(
      rows,
      input.Filters,
      (r, name) =>
        ({
          'resource-id': [r.ResourceId],
          'resource-type': [r.ResourceType],
          key: [r.Key],
          value: [r.Value],
        })[name],
    );
    return {
      Tags: out.map(({ Key, Value, ResourceId, ResourceType }) => ({ Key, Value, ResourceId, ResourceType })),
    };
  },
};
