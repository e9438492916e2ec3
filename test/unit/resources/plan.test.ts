/**
 * The plan of an onboarding request (`#resources/plan`), against the sandbox and the
 * embedded table: read-only checks that find what would make the onboard fail for certain,
 * and per target whether a link is made, re-driven, left as it is, or in conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountNotReachableError,
  ClusterNotFoundError,
  LinkSpecMismatchError,
  UnsupportedClusterError,
} from '#link/errors';
import type { LinkStatus, OnboardingRequest, TargetRequest, WorkloadRef } from '#link/model';
import { targetRoleName, workloadRoleName } from '#link/names';
import { assertApplicable, checkClusters, planRequest, plannedResources, specsOf } from '#resources/plan';
import {
  EDIT_POLICY,
  newCluster,
  newWorkload,
  OTHER_TARGET_ACCOUNT,
  observe,
  REGION,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  TARGET_ACCOUNT,
  unique,
  VIEW_POLICY,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const VIEW = { policyArn: VIEW_POLICY, scope: { type: 'cluster' } } as const;
const TO_B: TargetRequest = { accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b', access: VIEW };
const TO_C: TargetRequest = {
  accountId: OTHER_TARGET_ACCOUNT,
  region: 'eu-west-1',
  cluster: 'cluster-c',
  access: { groups: ['tether-readers'] },
};
const TO_D: TargetRequest = {
  accountId: OTHER_TARGET_ACCOUNT,
  region: 'eu-west-1',
  cluster: 'cluster-d',
  access: VIEW,
};

/** A request of a new workload of cluster-a (or `source`) to `targets`. */
function requestFor(targets: TargetRequest[], source: WorkloadRef = newWorkload()): OnboardingRequest {
  return { source, identity: { mode: 'irsa' }, network: { mode: 'nat' }, targets };
}

/** Makes the link of the request's first target and moves it to `status`. */
async function existingLink(request: OnboardingRequest, status: LinkStatus) {
  const [spec] = specsOf(request);
  const claim = await rt.runtime.links.reserve(unique('lnk_plan'), unique('req'), spec!, new Date());
  if (claim.kind !== 'reserved') throw new Error(`the natural key is not free: ${claim.kind}`);
  const link = await rt.runtime.links.commit(claim.reservation);
  const path: Record<string, LinkStatus[]> = {
    PENDING: [],
    FAILED: ['FAILED'],
    ACTIVE: ['PROVISIONING', 'ACTIVE'],
    DELETED: ['DELETING', 'DELETED'],
  };
  for (const next of path[status]!)
    await rt.runtime.links.transition(link.id, next, new Date().toISOString());
  return rt.runtime.links.get(link.id);
}

describe('specsOf', () => {
  it('makes one link spec per target, sharing the source, network and identity', () => {
    // Arrange
    const request = requestFor([TO_B, TO_C]);

    // Act
    const specs = specsOf(request);

    // Assert
    expect(specs).toEqual([
      {
        source: request.source,
        target: { accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b' },
        access: VIEW,
        network: { mode: 'nat' },
        identity: { mode: 'irsa' },
      },
      {
        source: request.source,
        target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-c' },
        access: { groups: ['tether-readers'] },
        network: { mode: 'nat' },
        identity: { mode: 'irsa' },
      },
    ]);
  });
});

describe('checkClusters', () => {
  it('describes each cluster of the request once, read-only, and says what it found', async () => {
    // Arrange
    const request = requestFor([TO_B, TO_C, TO_D]);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => checkClusters(rt.runtime, request));

    // Assert
    expect(mutations).toEqual([]);
    expect(rt.sandbox.callCounts({ operation: 'DescribeCluster' })).toBe(4);
    expect([...(value ?? [])].sort((x, y) => x.check.localeCompare(y.check))).toEqual([
      {
        check: `cluster ${SOURCE_ACCOUNT}/${REGION}/cluster-a`,
        ok: true,
        detail: 'ACTIVE, API_AND_CONFIG_MAP',
      },
      {
        check: `cluster ${TARGET_ACCOUNT}/${REGION}/cluster-b`,
        ok: true,
        detail: 'ACTIVE, API_AND_CONFIG_MAP',
      },
      {
        check: `cluster ${OTHER_TARGET_ACCOUNT}/eu-west-1/cluster-c`,
        ok: true,
        detail: 'ACTIVE, CONFIG_MAP',
      },
      { check: `cluster ${OTHER_TARGET_ACCOUNT}/eu-west-1/cluster-d`, ok: true, detail: 'ACTIVE, API' },
    ]);
  });

  it('answers ClusterNotFoundError for a target cluster that does not exist', async () => {
    // Arrange
    const request = requestFor([{ ...TO_B, cluster: 'cluster-z' }]);

    // Act
    const checking = checkClusters(rt.runtime, request);

    // Assert
    await expect(checking).rejects.toBeInstanceOf(ClusterNotFoundError);
  });

  it('answers UnsupportedClusterError for an irsa source without an OIDC issuer', async () => {
    // Arrange
    const { ref } = newCluster(rt.sandbox, { accountId: SOURCE_ACCOUNT, oidc: false });
    const request = requestFor([TO_B], newWorkload(ref));

    // Act
    const checking = checkClusters(rt.runtime, request);

    // Assert
    await expect(checking).rejects.toBeInstanceOf(UnsupportedClusterError);
    await expect(checking).rejects.toThrow(/has no OIDC issuer/);
  });

  it('answers UnsupportedClusterError for a CONFIG_MAP target asked for an access policy', async () => {
    // Arrange
    const request = requestFor([{ ...TO_C, access: VIEW }]);

    // Act
    const checking = checkClusters(rt.runtime, request);

    // Assert
    await expect(checking).rejects.toBeInstanceOf(UnsupportedClusterError);
    await expect(checking).rejects.toThrow(/CONFIG_MAP mode/);
  });

  it('answers AccountNotReachableError for an account without Tether’s agent role', async () => {
    // Arrange
    const request = requestFor([{ ...TO_B, accountId: '999999999999' }]);

    // Act
    const checking = checkClusters(rt.runtime, request);

    // Assert
    await expect(checking).rejects.toBeInstanceOf(AccountNotReachableError);
  });

  it('answers AccountNotReachableError when the agent role may not describe the cluster', async () => {
    // Arrange
    const { ref } = newCluster(rt.sandbox, { accountId: TARGET_ACCOUNT });
    rt.sandbox.injectFault({
      service: 'eks',
      operation: 'DescribeCluster',
      accountId: TARGET_ACCOUNT,
      code: 'AccessDeniedException',
      statusCode: 403,
    });
    const request = requestFor([{ ...TO_B, cluster: ref.cluster }]);

    // Act
    const checking = checkClusters(rt.runtime, request);

    // Assert
    await expect(checking).rejects.toBeInstanceOf(AccountNotReachableError);
    await expect(checking).rejects.toThrow(
      `Tether may not describe cluster ${TARGET_ACCOUNT}/${REGION}/${ref.cluster}`,
    );
  });
});

describe('planRequest', () => {
  it('plans to create a link for a workload → target never linked, changing nothing', async () => {
    // Arrange
    const request = requestFor([TO_B, TO_D]);

    // Act
    const { value: plan, mutations } = await observe(rt.sandbox, () => planRequest(rt.runtime, request));

    // Assert
    expect(plan?.targets.map((t) => t.action)).toEqual(['create', 'create']);
    expect(plan?.targets.map((t) => t.spec)).toEqual(specsOf(request));
    expect(plan?.targets.every((t) => t.existing === undefined && t.conflict === undefined)).toBe(true);
    expect(mutations).toEqual([]);
    for (const spec of specsOf(request))
      expect(await rt.runtime.links.findByNaturalKey(spec)).toBeUndefined();
  });

  it.each([
    ['PENDING', 'redrive'],
    ['FAILED', 'redrive'],
    ['ACTIVE', 'none'],
  ] as const)('plans to %s → %s an existing link of the same spec', async (status, action) => {
    // Arrange
    const request = requestFor([TO_B]);
    const existing = await existingLink(request, status);

    // Act
    const plan = await planRequest(rt.runtime, request);

    // Assert
    // A target the request would re-drive has its quota checks; one it leaves as it is has none.
    expect(plan.targets).toEqual([
      {
        spec: specsOf(request)[0],
        existing,
        action,
        ...(action === 'redrive' ? { checks: expect.any(Array) } : {}),
      },
    ]);
    expect(() => assertApplicable(plan)).not.toThrow();
  });

  it('plans to create again once the existing link is DELETED', async () => {
    // Arrange
    const request = requestFor([TO_B]);
    await existingLink(request, 'DELETED');

    // Act
    const plan = await planRequest(rt.runtime, request);

    // Assert
    expect(plan.targets.map((t) => t.action)).toEqual(['create']);
  });

  it('finds a conflict in an existing link with another access, which assertApplicable refuses', async () => {
    // Arrange
    const request = requestFor([TO_B, TO_D]);
    const existing = await existingLink(request, 'ACTIVE');
    const changed = { ...request, targets: [{ ...TO_B, access: { ...VIEW, policyArn: EDIT_POLICY } }, TO_D] };

    // Act
    const plan = await planRequest(rt.runtime, changed);

    // Assert
    const [toB, toD] = plan.targets;
    expect(toB?.conflict).toBeInstanceOf(LinkSpecMismatchError);
    expect(toB?.conflict?.message).toContain(`Link ${existing.id} already links this workload`);
    expect(toD).toMatchObject({ action: 'create' });
    expect(toD?.conflict).toBeUndefined();
    expect(() => assertApplicable(plan)).toThrow(toB!.conflict!);
  });

  it('finds a conflict in an existing link with another network', async () => {
    // Arrange
    const request = requestFor([TO_B]);
    await existingLink(request, 'PENDING');

    // Act
    const plan = await planRequest(rt.runtime, { ...request, network: { mode: 'none' } });

    // Assert
    expect(plan.targets[0]?.conflict).toBeInstanceOf(LinkSpecMismatchError);
  });
});

describe('plannedResources', () => {
  it('names what a target would get: the two roles, the access and the network', () => {
    // Arrange
    const request = requestFor([TO_B, TO_C]);
    const [toB, toC] = specsOf(request);

    // Act
    const planned = [plannedResources(toB!), plannedResources(toC!)];

    // Assert
    expect(planned).toEqual([
      {
        workloadRole: workloadRoleName(request.source),
        targetRole: targetRoleName(toB!),
        accessEntry: VIEW_POLICY,
        network: 'nat',
      },
      {
        workloadRole: workloadRoleName(request.source),
        targetRole: targetRoleName(toC!),
        accessEntry: 'groups tether-readers',
        network: 'nat',
      },
    ]);
  });
});
