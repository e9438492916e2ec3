/**
 * Tether's own end-to-end onboard of the demo `irsa` link with every member-account call
 * sent to moto (issue 5, item 1, last paragraph): the real HTTP API, the real onboard ASL
 * and the real step handlers, the hub assuming `tether-agent` in each account through
 * moto's STS. It reports which steps pass, why each failure is moto's (divergences.ts),
 * and what the compensation left behind.
 */
import { type Cluster, DescribeClusterCommand } from '@aws-sdk/client-eks';
import { type IAMClient, ListOpenIDConnectProvidersCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFBOARD_STEPS, ONBOARD_STEPS } from '#link/model';
import { demoRequest, type Harness } from '../e2e/harness';
import { type Divergence, findDivergence } from './divergences';
import { type MotoServer, motoAvailable, startMoto } from './moto';
import { holdCreateRole, makeDemoWorld, SOURCE, TARGET, withTetherOnMoto } from './moto-world';
import { motoSide } from './sides';

const availability = motoAvailable();

/** Onboard steps, then the compensation's (the removal steps), in the order they run. */
const ALL_STEPS = [...ONBOARD_STEPS, ...OFFBOARD_STEPS];

type Observed = 'SUCCEEDED' | 'FAILED' | 'RUNNING' | 'not run';

/** The demo link asking for Kubernetes groups: what the plan check asks of a CONFIG_MAP target. */
const groupsRequest = () => {
  const demo = demoRequest();
  return demoRequest({ targets: [{ ...demo.targets[0], access: { groups: ['tether-viewers'] } }] });
};

const describeDivergence = (field: string): Divergence | undefined =>
  findDivergence({ service: 'eks', operation: 'DescribeCluster', step: 'describe the cluster', field });

/** `link.steps.<name>.status` for every onboard and compensation step. */
const stepMap = (link: any): Record<string, Observed> =>
  Object.fromEntries(
    ALL_STEPS.map((s) => [s, (link.steps?.[s]?.status as Observed | undefined) ?? 'not run']),
  );

function printSteps(title: string, link: any, why: Record<string, string>): void {
  console.log(`${title}: link ${link.status}, error ${JSON.stringify(link.error ?? null)}`);
  console.table(
    ALL_STEPS.map((s) => {
      const step = link.steps?.[s];
      const detail = step?.error
        ? `${step.error.code}: ${step.error.message}`
        : step?.result
          ? `action ${String(step.result.action ?? JSON.stringify(step.result))}`
          : '';
      return {
        step: s,
        status: step?.status ?? 'not run',
        attempts: step?.attempts ?? 0,
        detail: detail.slice(0, 110),
        why: why[s] ?? '',
      };
    }),
  );
}

/** Tether's IAM in one moto account: role names under /tether/ and OIDC provider ARNs. */
async function tetherIam(iam: IAMClient) {
  const roles = (await iam.send(new ListRolesCommand({ PathPrefix: '/tether/' }))).Roles ?? [];
  const providers =
    (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [];
  return {
    roles: roles.map((r) => r.RoleName ?? '').sort(),
    providers: providers.map((p) => p.Arn ?? '').sort(),
  };
}

async function postAndSettle(h: Harness, body: unknown) {
  const res = await h.api('POST', '/links', body);
  expect(res.status, res.text).toBe(202);
  const id = res.body.links[0].id as string;
  return h.settle(id, 20_000);
}

describe('Tether onboard against moto', () => {
  it('states whether moto is available', () => {
    console.log(
      availability.available
        ? `Tether onboard against moto: ${availability.reason}`
        : `moto not available: Tether-onboard-against-moto suite skipped (${availability.reason})`,
    );
    expect(availability.reason).not.toBe('');
  });
});

describe.runIf(availability.available)('the demo irsa link onboarded by Tether on moto', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('makes clusters whose DescribeCluster lacks vpcId, clusterSecurityGroupId and accessConfig', async () => {
    await moto.reset();
    const world = await makeDemoWorld(moto, 'sdk');
    const project = (c: Cluster) => ({
      issuer: c.identity?.oidc?.issuer,
      resourcesVpcConfig: c.resourcesVpcConfig,
      accessConfig: c.accessConfig,
      endpoint: c.endpoint,
    });
    console.log('moto DescribeCluster, clusters made with accessConfig API:');
    console.log(
      JSON.stringify(
        { 'cluster-a': project(world.source.described), 'cluster-b': project(world.target.described) },
        null,
        2,
      ),
    );
    for (const w of [world.source, world.target]) {
      // moto assigns an issuer, keeps the subnets, and drops what EKS derives or CreateCluster sets elsewhere.
      expect(w.described.identity?.oidc?.issuer).toMatch(
        /^https:\/\/oidc\.eks\.ap-southeast-1\.amazonaws\.com\/id\/\w+$/,
      );
      expect(w.described.resourcesVpcConfig?.subnetIds).toEqual(w.subnetIds);
      expect(w.described.resourcesVpcConfig?.vpcId).toBeUndefined();
      expect(w.described.resourcesVpcConfig?.clusterSecurityGroupId).toBeUndefined();
      expect(w.described.accessConfig).toBeUndefined();
    }
    // moto 5.2.1 draws the issuer id and the endpoint once per process, so both clusters share
    // them; on EKS each cluster has its own (not in divergences.ts: Tether keys the provider by issuer).
    expect(world.target.described.identity?.oidc?.issuer).toBe(world.source.described.identity?.oidc?.issuer);
    expect(world.target.described.endpoint).toBe(world.source.described.endpoint);
    expect(world.source.natIps).toHaveLength(2);
    // Each is a listed divergence (sandbox follows AWS).
    for (const field of ['vpcId', 'clusterSecurityGroupId', 'authenticationMode', 'endpoint', 'issuer']) {
      expect(describeDivergence(field)?.verdict, field).toBe('sandbox follows AWS');
    }
  });

  it('refuses the demo link at the plan checks: moto answers no accessConfig, so cluster-b reads as CONFIG_MAP', async () => {
    await moto.reset();
    await makeDemoWorld(moto, 'sdk');
    const side = motoSide(moto);
    const res = await withTetherOnMoto(moto, async (h) => {
      const posted = await h.api('POST', '/links', demoRequest());
      const listed = await h.api('GET', '/links');
      return { posted, listed };
    });
    console.log(`POST /links (demo link, AmazonEKSViewPolicy): ${res.posted.status} ${res.posted.body.code}`);
    expect(res.posted.status).toBe(422);
    expect(res.posted.body.code).toBe('UNSUPPORTED_CLUSTER');
    expect(res.posted.body.detail).toContain('CONFIG_MAP');
    expect(res.listed.body.items).toEqual([]);
    expect(describeDivergence('authenticationMode')?.moto).toBe('<absent>');
    // Nothing was made in either account.
    expect(await tetherIam(side.account(SOURCE).iam)).toEqual({ roles: ['tether-agent'], providers: [] });
    expect(await tetherIam(side.account(TARGET).iam)).toEqual({ roles: ['tether-agent'], providers: [] });
  });

  it('fails the groups link at resolve when moto answers no vpcId, and the compensation has nothing to remove', async () => {
    await moto.reset();
    await makeDemoWorld(moto, 'sdk');
    const side = motoSide(moto);
    const link = await withTetherOnMoto(moto, (h) => postAndSettle(h, groupsRequest()));
    printSteps('Demo link with groups access, clusters made by CreateCluster as sent', link, {
      resolve:
        'moto DescribeCluster has no resourcesVpcConfig.vpcId (divergence eks:DescribeCluster vpcId), so no NAT gateway is found',
    });
    expect(describeDivergence('vpcId')?.moto).toBe('<absent>');
    expect(stepMap(link)).toEqual({
      resolve: 'FAILED',
      oidcProvider: 'not run',
      workloadRole: 'not run',
      podIdentityAssociation: 'not run',
      targetRole: 'not run',
      accessEntry: 'not run',
      egress: 'not run',
      kubeconfig: 'not run',
      verify: 'not run',
      revokeEgress: 'SUCCEEDED',
      removeAccessEntry: 'SUCCEEDED',
      removeTargetRole: 'SUCCEEDED',
      removePodIdentityAssociation: 'SUCCEEDED',
      releaseWorkloadRole: 'SUCCEEDED',
      releaseOidcProvider: 'SUCCEEDED',
    });
    expect(link.status).toBe('FAILED');
    expect(link.error).toEqual({
      code: 'UNSUPPORTED_CLUSTER',
      step: 'resolve',
      message:
        'The VPC  of cluster cluster-a has no available NAT gateway with an address; use network mode "cidrs" or "none"',
    });
    expect(await tetherIam(side.account(SOURCE).iam)).toEqual({ roles: ['tether-agent'], providers: [] });
    expect(await tetherIam(side.account(TARGET).iam)).toEqual({ roles: ['tether-agent'], providers: [] });
  });

  it('passes resolve, oidcProvider, workloadRole and targetRole when moto answers vpcId and the cluster SG, fails accessEntry with KUBERNETES_API_UNREACHABLE, and the compensation removes what the link made', async () => {
    await moto.reset();
    const world = await makeDemoWorld(moto, 'eks-answers');
    expect(world.target.described.resourcesVpcConfig?.vpcId).toBe(world.target.vpcId);
    expect(world.target.described.resourcesVpcConfig?.clusterSecurityGroupId).toBe(
      world.target.securityGroupId,
    );
    expect(world.target.described.accessConfig).toBeUndefined();
    const side = motoSide(moto);
    const source = side.account(SOURCE);
    const target = side.account(TARGET);
    const link = await withTetherOnMoto(moto, (h) => {
      // The source branch (oidcProvider → workloadRole) finishes before the target branch
      // (targetRole → accessEntry) starts making roles; unordered, workloadRole may not run.
      holdCreateRole(h.rt.clients.iam(TARGET), async () =>
        (await h.rt.links.list({}, 10)).items.some((l) => l.steps.workloadRole?.status === 'SUCCEEDED'),
      );
      return postAndSettle(h, groupsRequest());
    });
    printSteps('Demo link with groups access, moto answering vpcId and clusterSecurityGroupId', link, {
      resolve:
        'reads both clusters and the 2 NAT IPs; authenticationMode CONFIG_MAP (no accessConfig on moto)',
      accessEntry:
        'CONFIG_MAP: aws-auth over HTTPS to the cluster endpoint, and moto has no Kubernetes API (its endpoint is a made-up host)',
      egress: 'not reached: the Parallel failed at accessEntry',
      removeAccessEntry: 'the same aws-auth call as accessEntry, failing the same way',
      removeTargetRole: 'the compensation goes on after removeAccessEntry failed',
      releaseWorkloadRole: 'its last link is gone: the role goes',
      releaseOidcProvider: "the issuer's last link is gone: the provider goes",
    });
    expect(stepMap(link)).toEqual({
      resolve: 'SUCCEEDED',
      oidcProvider: 'SUCCEEDED',
      workloadRole: 'SUCCEEDED',
      // Mode irsa: the step answers not-needed at once, before the target branch fails.
      podIdentityAssociation: 'SUCCEEDED',
      targetRole: 'SUCCEEDED',
      accessEntry: 'FAILED',
      egress: 'not run',
      kubeconfig: 'not run',
      verify: 'not run',
      revokeEgress: 'SUCCEEDED',
      removeAccessEntry: 'FAILED',
      removeTargetRole: 'SUCCEEDED',
      removePodIdentityAssociation: 'SUCCEEDED',
      releaseWorkloadRole: 'SUCCEEDED',
      releaseOidcProvider: 'SUCCEEDED',
    });
    expect(link.status).toBe('FAILED');
    expect(link.steps.resolve.result).toEqual({
      sourceIssuer: world.source.described.identity?.oidc?.issuer,
      sourceVpcId: world.source.vpcId,
      natIps: world.source.natIps,
      targetAuthenticationMode: 'CONFIG_MAP',
      targetSecurityGroupId: world.target.securityGroupId,
    });
    for (const s of ['oidcProvider', 'workloadRole', 'targetRole']) {
      expect(link.steps[s].result.action, s).toBe('created');
    }
    // The Kubernetes API of cluster-b cannot be reached: its name does not resolve.
    const unreachable =
      /^Kubernetes API of cluster-b \(\S+\.ap-southeast-1\.eks\.amazonaws\.com\): getaddrinfo (ENOTFOUND|EAI_AGAIN) \S+$/;
    expect(link.steps.accessEntry.error.code).toBe('KUBERNETES_API_UNREACHABLE');
    expect(link.steps.accessEntry.error.message).toMatch(unreachable);
    expect(link.steps.removeAccessEntry.error.message).toMatch(unreachable);
    expect(link.error.code).toBe('KUBERNETES_API_UNREACHABLE');
    expect(link.error.step).toBe('accessEntry');
    expect(link.error.message).toMatch(unreachable);
    expect(describeDivergence('authenticationMode')?.moto).toBe('<absent>');
    expect(describeDivergence('endpoint')?.moto).toContain('<random 20>');

    // What the passing steps made was real in moto, and the compensation removed all of it.
    const { oidcProviderArn, workloadRoleArn, targetRoleArn } = link.outputs;
    expect(oidcProviderArn).toMatch(/^arn:aws:iam::111111111111:oidc-provider\//);
    expect(link.steps.removeTargetRole.result).toEqual({ action: 'deleted', arn: targetRoleArn });
    expect(link.steps.releaseWorkloadRole.result).toEqual({ action: 'deleted', remainingLinks: 0 });
    expect(link.steps.releaseOidcProvider.result).toMatchObject({ action: 'deleted', arn: oidcProviderArn });
    expect(workloadRoleArn).toMatch(/^arn:aws:iam::111111111111:role\/tether\//);
    expect(await tetherIam(source.iam)).toEqual({ roles: ['tether-agent'], providers: [] });
    expect(await tetherIam(target.iam)).toEqual({ roles: ['tether-agent'], providers: [] });
    // The target cluster itself is untouched by the failed run.
    const b = (await target.eks.send(new DescribeClusterCommand({ name: 'cluster-b' }))).cluster;
    expect(b?.status).toBe('ACTIVE');
  });
});
