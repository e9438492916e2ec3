/**
 * POST /links/{id}/reconcile after the source's NAT IPs changed: the new IP is let in, the
 * IP that went away is revoked, and nothing else changes.
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { demoRequest, type Harness, startHarness } from './harness';

let h: Harness;
let link: any;
let sourceEc2: EC2Client;

beforeAll(async () => {
  h = await startHarness();
  link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  // The platform team's own hands on the source account: root credentials, not Tether's.
  sourceEc2 = new EC2Client({
    region: 'ap-southeast-1',
    credentials: h.rt.sandbox.rootCredentials('111111111111'),
  });
  sourceEc2.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'ec2', sourceEc2.config as never));
});
afterAll(async () => {
  await h?.close();
});

async function taggedCidrs(): Promise<string[]> {
  const rules =
    (
      await h.rt.clients.ec2('222222222222', 'ap-southeast-1').send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: 'group-id', Values: [link.outputs.egress.securityGroupId] }],
        }),
      )
    ).SecurityGroupRules ?? [];
  return rules
    .filter((r) => r.Tags?.some((t) => t.Key === 'tether:managed'))
    .map((r) => r.CidrIpv4 ?? '')
    .sort();
}

describe('POST /links/{id}/reconcile', () => {
  it('adds the new NAT IP and revokes the one that went away', async () => {
    const gateways = (await sourceEc2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? [];
    const gone = gateways.find((g) => g.NatGatewayAddresses?.some((a) => a.PublicIp === '18.0.38.139'))!;
    await sourceEc2.send(new DeleteNatGatewayCommand({ NatGatewayId: gone.NatGatewayId }));
    const eip = await sourceEc2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await sourceEc2.send(
      new CreateNatGatewayCommand({ SubnetId: gone.SubnetId, AllocationId: eip.AllocationId }),
    );
    // CreateNatGateway is asynchronous (docs/aws-facts.md#nat-gateway-change-events): describe until it settles.
    for (let i = 0; i < 5; i++) await sourceEc2.send(new DescribeNatGatewaysCommand({}));

    h.rt.sandbox.resetCalls();
    const res = await h.api('POST', `/links/${link.id}/reconcile`);
    expect(res.status).toBe(202);
    const after = await h.settle(link.id);
    expect(after.status).toBe('ACTIVE');
    expect(await taggedCidrs()).toEqual(['18.0.35.117/32', '18.0.37.11/32', `${eip.PublicIp}/32`].sort());
    const mutations = h.rt.sandbox
      .calls()
      .filter((c) => c.mutating && c.ok)
      .map((c) => c.operation)
      .sort();
    expect(mutations).toEqual(['AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress']);
    expect(after.steps.egress.result.released).toEqual([
      expect.objectContaining({ cidr: '18.0.38.139/32', action: 'revoked' }),
    ]);
  });

  it('answers 404 for an unknown link', async () => {
    const res = await h.api('POST', '/links/lnk_01M87H2QQVWBJYXZXTDDNSMTNM/reconcile');
    expect([res.status, res.body.code]).toEqual([404, 'LINK_NOT_FOUND']);
  });
});
