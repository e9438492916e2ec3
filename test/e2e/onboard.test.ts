/**
 * The demo link of the cross-account IRSA runbook, end to end: HTTP API → onboard ASL → step handlers → sandbox,
 * then what the sandbox accounts hold.
 */
import { DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeAccessEntryCommand,
  DescribeClusterCommand,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  ListOpenIDConnectProvidersCommand,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ONBOARD_STEPS } from '#link/model';
import { demoRequest, type Harness, IRSA_CHAIN_HOPS, startHarness } from './harness';

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const NAT_IPS = ['18.0.35.117', '18.0.37.11', '18.0.38.139'];

let h: Harness;
let link: any;

const decode = (doc: string | undefined) => JSON.parse(decodeURIComponent(doc ?? '{}'));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('POST /links with the demo link of the cross-account IRSA runbook', () => {
  it('answers 202 with a Location and a PENDING link', async () => {
    const res = await h.api('POST', '/links', demoRequest());
    expect(res.status).toBe(202);
    expect(res.body.links).toHaveLength(1);
    const summary = res.body.links[0];
    expect(summary.id).toMatch(/^lnk_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(res.headers.get('location')).toBe(`/links/${summary.id}`);
    link = await h.settle(summary.id);
  });

  it('ends ACTIVE with every step SUCCEEDED and recorded on the link', () => {
    expect(link.status).toBe('ACTIVE');
    expect(link.error).toBeUndefined();
    for (const step of ONBOARD_STEPS) {
      expect(link.steps[step]?.status, step).toBe('SUCCEEDED');
      expect(link.steps[step]?.attempts).toBeGreaterThanOrEqual(1);
    }
    expect(link.steps.oidcProvider.result.action).toBe('created');
    expect(link.steps.workloadRole.result.action).toBe('created');
    expect(link.steps.targetRole.result.action).toBe('created');
    expect(link.outputs.serviceAccountAnnotation['eks.amazonaws.com/role-arn']).toBe(
      link.outputs.workloadRoleArn,
    );
    expect(link.lastExecution.workflow).toBe('onboard');
  });

  it('makes a workload role whose trust is StringEquals on sub and aud for exactly the service account', async () => {
    const name = link.outputs.workloadRoleArn.split('/').pop();
    const role = (await h.rt.clients.iam(SOURCE).send(new GetRoleCommand({ RoleName: name }))).Role!;
    expect(role.Path).toBe('/tether/');
    const trust = decode(role.AssumeRolePolicyDocument);
    expect(trust.Statement).toHaveLength(1);
    const st = trust.Statement[0];
    const issuerHost = link.outputs.oidcProviderArn.split(':oidc-provider/')[1];
    expect(st.Principal).toEqual({ Federated: link.outputs.oidcProviderArn });
    expect(st.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(Object.keys(st.Condition)).toEqual(['StringEquals']);
    expect(st.Condition.StringEquals).toEqual({
      [`${issuerHost}:sub`]: 'system:serviceaccount:kubeai-chatbot:kubeai-chatbot',
      [`${issuerHost}:aud`]: 'sts.amazonaws.com',
    });
    const tags =
      (await h.rt.clients.iam(SOURCE).send(new ListRoleTagsCommand({ RoleName: name }))).Tags ?? [];
    expect(tags).toContainEqual({ Key: 'tether:managed', Value: 'true' });
  });

  it('gives the workload role sts:AssumeRole on Tether target roles tagged for this workload, and tags the target role so', async () => {
    const name = link.outputs.workloadRoleArn.split('/').pop();
    const out = await h.rt.clients
      .iam(SOURCE)
      .send(new GetRolePolicyCommand({ RoleName: name, PolicyName: 'tether-assume-target-roles' }));
    const policy = decode(out.PolicyDocument);
    const workload = `workload:${SOURCE}/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot`;
    expect(policy.Statement).toEqual([
      {
        Sid: 'AssumeTetherTargetRolesOfThisWorkload',
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Resource: 'arn:aws:iam::*:role/tether/tether-t-*',
        Condition: { StringEquals: { 'aws:ResourceTag/tether:workload': workload } },
      },
    ]);
    const target = await h.rt.clients
      .iam(TARGET)
      .send(new GetRoleCommand({ RoleName: link.outputs.targetRoleArn.split('/').pop() }));
    expect(target.Role?.Tags).toContainEqual({ Key: 'tether:workload', Value: workload });
  });

  it('makes a target role trusting the source account by aws:PrincipalArn, allowed to describe only cluster-b', async () => {
    const name = link.outputs.targetRoleArn.split('/').pop();
    const iam = h.rt.clients.iam(TARGET);
    const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
    expect(role.Arn).toBe(link.outputs.targetRoleArn);
    expect(decode(role.AssumeRolePolicyDocument).Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${SOURCE}:root` },
        Action: 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': link.outputs.workloadRoleArn } },
      },
    ]);
    const policy = decode(
      (await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: 'tether-describe-cluster' })))
        .PolicyDocument,
    );
    expect(policy.Statement).toEqual([
      {
        Sid: 'DescribeTargetCluster',
        Effect: 'Allow',
        Action: 'eks:DescribeCluster',
        Resource: `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`,
      },
    ]);
  });

  it('makes an OIDC provider for the cluster-a issuer with the sts.amazonaws.com audience', async () => {
    const list = await h.rt.clients.iam(SOURCE).send(new ListOpenIDConnectProvidersCommand({}));
    expect(list.OpenIDConnectProviderList?.map((p) => p.Arn)).toContain(link.outputs.oidcProviderArn);
  });

  it('makes an access entry for the target role with AmazonEKSViewPolicy at cluster scope', async () => {
    const eks = h.rt.clients.eks(TARGET, REGION);
    const entry = (
      await eks.send(
        new DescribeAccessEntryCommand({
          clusterName: 'cluster-b',
          principalArn: link.outputs.targetRoleArn,
        }),
      )
    ).accessEntry!;
    expect(entry.type).toBe('STANDARD');
    expect(entry.tags?.['tether:managed']).toBe('true');
    // The role id the entry was made for: EKS binds the entry to it (docs/aws-facts.md#access-entries-keep-the-role-id).
    const role = (
      await h.rt.clients
        .iam(TARGET)
        .send(new GetRoleCommand({ RoleName: link.outputs.targetRoleArn.split('/').pop() }))
    ).Role;
    expect(entry.tags?.['tether:role-id']).toBe(role?.RoleId);
    expect(entry.username).toBe(
      `tether:${SOURCE}:${REGION}:cluster-a:kubeai-chatbot:kubeai-chatbot:{{SessionName}}`,
    );
    const policies = (
      await eks.send(
        new ListAssociatedAccessPoliciesCommand({
          clusterName: 'cluster-b',
          principalArn: link.outputs.targetRoleArn,
        }),
      )
    ).associatedAccessPolicies;
    expect(policies?.map((p) => [p.policyArn, p.accessScope?.type])).toEqual([
      ['arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', 'cluster'],
    ]);
  });

  it('merges each NAT IP /32 into the publicAccessCidrs of cluster-b, keeping the CIDR already there, and adds no rule to its security group', async () => {
    const cluster = (
      await h.rt.clients.eks(TARGET, REGION).send(new DescribeClusterCommand({ name: 'cluster-b' }))
    ).cluster;
    expect(cluster?.resourcesVpcConfig?.publicAccessCidrs).toEqual([
      '203.0.113.0/24',
      ...NAT_IPS.map((ip) => `${ip}/32`).sort(),
    ]);
    expect(link.outputs.egress).toMatchObject({
      effectiveAt: 'public-access-cidrs',
      cidrs: NAT_IPS.map((ip) => `${ip}/32`).sort(),
      publicAccess: { cluster: 'cluster-b', cidrs: NAT_IPS.map((ip) => `${ip}/32`).sort() },
    });
    const groupId = cluster?.resourcesVpcConfig?.clusterSecurityGroupId ?? '';
    const rules =
      (
        await h.rt.clients
          .ec2(TARGET, REGION)
          .send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))
      ).SecurityGroupRules ?? [];
    expect(rules.filter((r) => r.Tags?.some((t) => t.Key === 'tether:managed'))).toEqual([]);
  });

  it('serves a kubeconfig whose exec block chains the workload role to the target role', async () => {
    const res = await h.api('GET', `/links/${link.id}/kubeconfig`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/yaml');
    const config = YAML.parse(res.text);
    // Named as `aws eks update-kubeconfig` names them (the cluster ARN), the user by the link's target role.
    const clusterArn = `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`;
    expect(config['current-context']).toBe(clusterArn);
    expect(config.contexts).toEqual([
      { name: clusterArn, context: { cluster: clusterArn, user: link.outputs.targetRoleArn } },
    ]);
    expect(config.clusters.map((c: any) => c.name)).toEqual([clusterArn]);
    expect(config.users.map((u: any) => u.name)).toEqual([link.outputs.targetRoleArn]);
    const exec = config.users[0].user.exec;
    expect(exec.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(exec.command).toBe('aws');
    expect(exec.args).toEqual([
      '--region',
      REGION,
      'eks',
      'get-token',
      '--cluster-name',
      'cluster-b',
      '--role-arn',
      link.outputs.targetRoleArn,
      '--output',
      'json',
    ]);
    expect(exec.env).toEqual([
      { name: 'AWS_ROLE_ARN', value: link.outputs.workloadRoleArn },
      {
        name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
        value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      },
    ]);
    expect(config.clusters[0].cluster.server).toMatch(/^https:\/\//);
  });

  it('verifies every hop of the role chain', () => {
    const hops = link.steps.verify.result.hops;
    expect(hops.map((x: any) => x.hop)).toEqual(IRSA_CHAIN_HOPS);
    expect(hops.every((x: any) => x.ok)).toBe(true);
  });
});

describe('re-running an onboard that succeeded', () => {
  it('returns the existing link with 200 and starts nothing', async () => {
    h.rt.sandbox.resetCalls();
    const res = await h.api('POST', '/links', demoRequest());
    expect(res.status).toBe(200);
    expect(res.body.links[0]).toMatchObject({ id: link.id, status: 'ACTIVE', created: false });
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
  });

  it('makes zero mutating AWS calls when the workflow runs again on the ACTIVE link', async () => {
    h.rt.sandbox.resetCalls();
    const { executionArn } = await h.rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: h.rt.runtime.stateMachines.onboard,
        name: 'rerun-demo',
        input: JSON.stringify({ linkIds: [link.id] }),
      }),
    );
    const execution = await h.rt.stepFunctions.waitFor(executionArn!);
    expect(execution.status).toBe('SUCCEEDED');
    const again = await h.settle(link.id);
    expect(again.status).toBe('ACTIVE');
    expect(h.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    expect(h.rt.sandbox.callCounts({ mutating: false })).toBeGreaterThan(5);
    // The shared source side this link's first run confirmed is read back by verify; the rest is read and found unchanged.
    for (const step of ['oidcProvider', 'workloadRole']) {
      expect(again.steps[step].result.action, step).toBe('confirmed-before');
    }
    expect(again.steps.targetRole.result.action).toBe('unchanged');
  });
});

describe('two links of the same workload', () => {
  it('share one OIDC provider and one workload role, and the second link writes nothing in the source account', async () => {
    const firstLinkCalls = h.rt.sandbox.calls().length;
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        targets: [
          {
            accountId: '333333333333',
            region: 'eu-west-1',
            cluster: 'cluster-d',
            access: { groups: ['tether-readers'] },
          },
        ],
      }),
    );
    expect(res.status).toBe(202);
    const second = await h.settle(res.body.links[0].id);
    expect(second.status).toBe('ACTIVE');
    expect(second.outputs.workloadRoleArn).toBe(link.outputs.workloadRoleArn);
    // Confirmed by the first link's run; the second one's verify read it back.
    expect(second.steps.oidcProvider.result).toMatchObject({
      action: 'confirmed-before',
      confirmedBy: link.id,
    });

    const iam = h.rt.clients.iam(SOURCE);
    const providers =
      (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [];
    expect(providers.filter((p) => p.Arn === link.outputs.oidcProviderArn)).toHaveLength(1);
    // The second link wrote nothing in the source account: the workload role's policy names no link.
    expect(second.steps.workloadRole.result).toMatchObject({
      action: 'confirmed-before',
      confirmedBy: link.id,
    });
    const sourceWrites = h.rt.sandbox
      .calls()
      .filter((c) => c.accountId === SOURCE && c.mutating && c.ok && c.seq > firstLinkCalls);
    expect(sourceWrites).toEqual([]);
  });
});

describe('kubeconfigs of links to same-named clusters in different accounts', () => {
  it('merge into one kubeconfig without a clash: a cluster, a context and a user each', async () => {
    // Arrange: a second cluster-b, in 333333333333.
    h.rt.sandbox.addEksCluster({
      accountId: '333333333333',
      region: REGION,
      name: 'cluster-b',
      authenticationMode: 'API',
    });
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        targets: [
          {
            accountId: '333333333333',
            region: REGION,
            cluster: 'cluster-b',
            access: { groups: ['readers'] },
          },
        ],
      }),
    );
    const other = await h.settle(res.body.links[0].id);
    expect(other.status).toBe('ACTIVE');
    // Act: merge the two as kubectl does with KUBECONFIG=a:b (entries by name, first wins).
    const configs = await Promise.all(
      [link.id, other.id].map(async (id) => YAML.parse((await h.api('GET', `/links/${id}/kubeconfig`)).text)),
    );
    const merged = (key: 'clusters' | 'contexts' | 'users') =>
      new Map(configs.flatMap((c) => c[key]).map((e: any) => [e.name, e] as const));
    // Assert
    for (const key of ['clusters', 'contexts', 'users'] as const) {
      expect(merged(key).size, key).toBe(2);
    }
    expect([...merged('contexts').keys()].sort()).toEqual([
      `arn:aws:eks:${REGION}:${TARGET}:cluster/cluster-b`,
      `arn:aws:eks:${REGION}:333333333333:cluster/cluster-b`,
    ]);
  });
});
