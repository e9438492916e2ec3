import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListServiceQuotasCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas';
import { describe, expect, it } from 'vitest';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, agentCredentials, rejectionOf } from './helpers';

const TARGET = '222222222222';

async function quotas(sb: Sandbox, region = 'ap-southeast-1') {
  const credentials = await agentCredentials(sb, TARGET);
  return attachSandbox(new ServiceQuotasClient({ region, credentials, maxAttempts: 1 }), sb, 'servicequotas');
}

describe('sandbox Service Quotas', () => {
  it('answers the AWS default as the applied value until an increase is applied', async () => {
    const sb = Sandbox.open();
    const sq = await quotas(sb);
    const before = await sq.send(new GetServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-0EA8095F' }));
    expect(before.Quota).toMatchObject({ Value: 60, Adjustable: true, GlobalQuota: false });
    expect(before.Quota?.QuotaArn).toBe(`arn:aws:servicequotas:ap-southeast-1:${TARGET}:vpc/L-0EA8095F`);

    sb.setServiceQuota(TARGET, 'ap-southeast-1', 'vpc', 'L-0EA8095F', 120);

    expect(
      (await sq.send(new GetServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-0EA8095F' }))).Quota
        ?.Value,
    ).toBe(120);
    expect(
      (await sq.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-0EA8095F' })))
        .Quota?.Value,
    ).toBe(60);
    // Regional: another Region keeps the default.
    const other = await quotas(sb, 'eu-west-1');
    expect(
      (await other.send(new GetServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-0EA8095F' }))).Quota
        ?.Value,
    ).toBe(60);
  });

  it('applies a global IAM quota in every Region and lists the service quotas', async () => {
    const sb = Sandbox.open();
    sb.setServiceQuota(TARGET, 'eu-west-1', 'iam', 'L-FE177D64', 2500);
    const sq = await quotas(sb, 'us-east-1');
    const out = await sq.send(new ListServiceQuotasCommand({ ServiceCode: 'iam' }));
    const byCode = Object.fromEntries((out.Quotas ?? []).map((q) => [q.QuotaCode, q.Value]));
    expect(byCode).toEqual({ 'L-FE177D64': 2500, 'L-C07B4B0D': 2048, 'L-858F3967': 100 });
    expect(out.Quotas?.every((q) => q.GlobalQuota)).toBe(true);
  });

  it('answers NoSuchResourceException for a quota it does not know', async () => {
    const sb = Sandbox.open();
    const sq = await quotas(sb);
    const err = await rejectionOf(
      sq.send(new GetServiceQuotaCommand({ ServiceCode: 'vpc', QuotaCode: 'L-NOPE0000' })),
    );
    expect(err.name).toBe('NoSuchResourceException');
    expect(err.$fault).toBe('client');
  });

  it('makes EC2 enforce the applied rules-per-group value', async () => {
    const sb = Sandbox.open();
    const { ec2 } = await agentClients(sb, TARGET);
    const sg =
      sb.state().accounts[TARGET]!.regions['ap-southeast-1']!.eks.clusters['cluster-b']!
        .clusterSecurityGroupId;
    sb.setServiceQuota(TARGET, 'ap-southeast-1', 'vpc', 'L-0EA8095F', 3);
    const held = sb.state().accounts[TARGET]!.regions['ap-southeast-1']!.ec2.securityGroupRules;
    const inbound = Object.values(held).filter((r) => r.GroupId === sg && !r.IsEgress).length;
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => ({ CidrIp: `10.9.${i}.0/24` }));
    const over = await rejectionOf(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: sg,
          IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: ranges(4 - inbound) }],
        }),
      ),
    );
    expect(over.name).toBe('RulesPerSecurityGroupLimitExceeded');
    sb.setServiceQuota(TARGET, 'ap-southeast-1', 'vpc', 'L-0EA8095F', undefined);
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: ranges(4 - inbound) }],
      }),
    );
  });

  it('makes IAM enforce a lowered roles-per-account value', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, TARGET);
    const roles = Object.keys(sb.state().accounts[TARGET]!.iam.roles).length;
    sb.setServiceQuota(TARGET, 'us-east-1', 'iam', 'L-FE177D64', roles);
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${TARGET}:root` }, Action: 'sts:AssumeRole' },
      ],
    });
    const err = await rejectionOf(
      iam.send(new CreateRoleCommand({ RoleName: 'one-too-many', AssumeRolePolicyDocument: trust })),
    );
    expect(err.name).toBe('LimitExceededException');
    expect(err.message).toContain(`RolesPerAccount: ${roles}`);
  });
});
