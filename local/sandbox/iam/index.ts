/**
 * IAM: roles (trust, inline and attached policies, tags) and OIDC providers. IAM is
 * global: the region of the call is ignored. Quotas and messages follow docs/aws-facts.md#iam.
 *
 * One file per family; this one assembles their operations.
 */
import type { Operations } from '#local/sandbox/context';
import { oidcProviderOperations } from './oidc-providers';
import { rolePolicyOperations } from './role-policies';
import { roleOperations } from './roles';

export { OIDC_PROVIDERS_PER_ACCOUNT } from './oidc-providers';
export type { PolicyDocument, PolicyStatement } from './policies';
export { awsPrincipals, parsePolicy } from './policies';
export { ATTACHED_POLICIES_PER_ROLE, INLINE_POLICIES_MAX } from './role-policies';
export {
  createRole,
  effectiveTrust,
  findRoleByArn,
  getRoleOrThrow,
  roleNamed,
  ROLES_PER_ACCOUNT,
  TRUST_POLICY_MAX,
} from './roles';
export { TAGS_PER_RESOURCE } from './tags';

/** The IAM operations the sandbox implements. */
export const iamOperations: Operations = {
  ...roleOperations,
  ...rolePolicyOperations,
  ...oidcProviderOperations,
};
