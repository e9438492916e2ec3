/**
 * The policies of a role: inline ones (put, get, delete, list; all of a role's inline
 * policies together within 10,240 characters, whitespace not counted) and attached AWS
 * managed ones (attach, detach, list; at most 10 per role).
 */
import { nonWhitespaceLength, type Operations, requireString } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import { parsePolicy } from './policies';
import { roleNamed } from './roles';

/** All inline policies of one role: 10,240 characters, whitespace not counted. */
export const INLINE_POLICIES_MAX = 10_240;
/** Managed policies attached to one role (IAM default quota). */
export const ATTACHED_POLICIES_PER_ROLE = 10;

const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;

function policyName(value: unknown): string {
  const n = requireString(value, 'policyName');
  if (!POLICY_NAME.test(n)) {
    throw new SandboxError(
      'ValidationError',
      `1 validation error detected: Value '${n}' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+`,
    );
  }
  return n;
}

/** Managed policies IAM knows: AWS managed ones (any `arn:aws:iam::aws:policy/…`). */
function checkManagedPolicyArn(arn: unknown): string {
  const a = requireString(arn, 'policyArn');
  if (!/^arn:aws:iam::aws:policy\/.+/.test(a)) {
    // The sandbox has no customer managed policies (no CreatePolicy).
    throw new SandboxError('NoSuchEntity', `Policy ${a} does not exist or is not attachable.`, {
      statusCode: 404,
    });
  }
  return a;
}

/** The inline and attached role policy operations. */
export const rolePolicyOperations: Operations = {
  PutRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    const name = policyName(input.PolicyName);
    const doc = requireString(input.PolicyDocument, 'policyDocument');
    parsePolicy(doc);
    const others = Object.entries(role.inlinePolicies).filter(([n]) => n !== name);
    const total = others.reduce((sum, [, d]) => sum + nonWhitespaceLength(d), 0) + nonWhitespaceLength(doc);
    // 10,240 characters for all inline policies of the role (docs/aws-facts.md#iam).
    if (total > INLINE_POLICIES_MAX) {
      throw new SandboxError(
        'LimitExceeded',
        `Maximum policy size of ${INLINE_POLICIES_MAX} bytes exceeded for role ${role.RoleName}`,
        {
          statusCode: 409,
        },
      );
    }
    role.inlinePolicies[name] = doc;
    return {};
  },

  GetRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    const name = requireString(input.PolicyName, 'policyName');
    const doc = role.inlinePolicies[name];
    if (doc === undefined) {
      throw new SandboxError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, {
        statusCode: 404,
      });
    }
    return { RoleName: role.RoleName, PolicyName: name, PolicyDocument: encodeURIComponent(doc) };
  },

  DeleteRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    const name = requireString(input.PolicyName, 'policyName');
    if (role.inlinePolicies[name] === undefined) {
      throw new SandboxError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, {
        statusCode: 404,
      });
    }
    delete role.inlinePolicies[name];
    return {};
  },

  ListRolePolicies: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    return { PolicyNames: Object.keys(role.inlinePolicies).sort(), IsTruncated: false };
  },

  AttachRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    const arn = checkManagedPolicyArn(input.PolicyArn);
    if (role.attachedPolicyArns.includes(arn)) return {};
    if (role.attachedPolicyArns.length >= ATTACHED_POLICIES_PER_ROLE) {
      throw new SandboxError(
        'LimitExceeded',
        `Cannot exceed quota for PoliciesPerRole: ${ATTACHED_POLICIES_PER_ROLE}`,
        { statusCode: 409 },
      );
    }
    role.attachedPolicyArns.push(arn);
    return {};
  },

  DetachRolePolicy: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    const arn = requireString(input.PolicyArn, 'policyArn');
    if (!role.attachedPolicyArns.includes(arn)) {
      throw new SandboxError('NoSuchEntity', `Policy ${arn} was not found.`, { statusCode: 404 });
    }
    role.attachedPolicyArns = role.attachedPolicyArns.filter((a) => a !== arn);
    return {};
  },

  ListAttachedRolePolicies: (ctx, input) => {
    const role = roleNamed(ctx, input.RoleName);
    return {
      AttachedPolicies: role.attachedPolicyArns.map((a) => ({
        PolicyArn: a,
        PolicyName: a.split('/').pop(),
      })),
      IsTruncated: false,
    };
  },
};
