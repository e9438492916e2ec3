/**
 * The workload role's policy (docs/architecture.md#the-workload-roles-permission): whatever
 * the workload and target, it allows the link's own target role, as tagged at creation, and
 * its size does not depend on the number of links.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roleArn, targetRoleName } from '#link/names';
import { evaluatePolicy } from '#link/policy/evaluate';
import {
  TAG_WORKLOAD,
  TARGET_ROLE_NAME_PREFIX,
  workloadPolicy,
  workloadTagValue,
} from '#resources/workload-role';

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/);
const account = fc.stringMatching(/^[0-9]{12}$/);
const ref = fc.record({ accountId: account, region: fc.constant('eu-west-1'), cluster: segment });
const workload = fc.record({
  accountId: account,
  region: fc.constant('ap-southeast-1'),
  cluster: segment,
  namespace: segment,
  serviceAccount: segment,
});

describe('workloadPolicy', () => {
  it('allows every link’s own target role, tagged for its workload, and refuses it tagged for another', () => {
    fc.assert(
      fc.property(workload, ref, (source, target) => {
        const name = targetRoleName({ source, target });
        expect(name.startsWith(TARGET_ROLE_NAME_PREFIX)).toBe(true);
        const request = (value: string) => ({
          action: 'sts:AssumeRole',
          resource: roleArn(target.accountId, name),
          context: { [`aws:ResourceTag/${TAG_WORKLOAD}`]: value },
        });
        const policy = workloadPolicy(source);
        expect(
          evaluatePolicy(policy, request(workloadTagValue(source)), { policyType: 'identity' }).decision,
        ).toBe('Allow');
        const other = { ...source, serviceAccount: `${source.serviceAccount}-x` };
        expect(
          evaluatePolicy(policy, request(workloadTagValue(other)), { policyType: 'identity' }).decision,
        ).toBe('ImplicitDeny');
      }),
    );
  });

  it('stays under 512 characters whatever the workload, against IAM’s 10,240 for a role', () => {
    fc.assert(
      fc.property(workload, (source) => {
        expect(JSON.stringify(workloadPolicy(source)).length).toBeLessThan(512);
      }),
    );
  });
});
