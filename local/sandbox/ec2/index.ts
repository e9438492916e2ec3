/**
 * EC2 (per region): VPCs and subnets (read), Elastic IPs, NAT gateways, security groups
 * and their rules, customer-managed prefix lists, tags. Quotas and errors follow
 * docs/aws-facts.md#ec2-and-vpc. EC2 models no error classes: every error is an unmodeled code.
 *
 * One file per resource family; this one assembles their operations.
 */
import type { Operations } from '#local/sandbox/context';
import { natGatewayOperations } from './nat-gateways';
import { prefixListOperations } from './prefix-lists';
import { securityGroupOperations } from './security-groups';
import { tagOperations } from './tags';
import { vpcOperations } from './vpcs';

export { ADDRESSES_PER_NAT_GATEWAY, attachAddress, NAT_GATEWAYS_PER_AZ, newPublicIp } from './nat-gateways';
export {
  PREFIX_LIST_ENTRIES_PER_CREATE,
  PREFIX_LIST_MAX_ENTRIES,
  PREFIX_LISTS_PER_REGION,
} from './prefix-lists';
export { groupOrThrow, RULES_PER_SECURITY_GROUP } from './security-groups';

/** The EC2 operations the sandbox implements. */
export const ec2Operations: Operations = {
  ...vpcOperations,
  ...natGatewayOperations,
  ...securityGroupOperations,
  ...tagOperations,
  ...prefixListOperations,
};
