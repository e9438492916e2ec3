/** Shared set-up of the sandbox tests: real SDK v3 clients with the sandbox plugged in. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import type { Sandbox, SandboxCredentials } from '#local/sandbox/index';

/** Real SDK clients for one principal, all served by `sb`. */
export function clientsFor(sb: Sandbox, credentials: SandboxCredentials, region = 'ap-southeast-1') {
  const config = { region, credentials, maxAttempts: 1 };
  return {
    iam: attachSandbox(new IAMClient({ ...config, region: 'us-east-1' }), sb, 'iam'),
    sts: attachSandbox(new STSClient(config), sb, 'sts'),
    eks: attachSandbox(new EKSClient(config), sb, 'eks'),
    ec2: attachSandbox(new EC2Client(config), sb, 'ec2'),
    s3: attachSandbox(new S3Client({ ...config, forcePathStyle: true }), sb, 's3'),
  };
}

/** Credentials of the agent role of `accountId`, assumed by the hub as Tether does. */
export async function agentCredentials(sb: Sandbox, accountId: string): Promise<SandboxCredentials> {
  const { sts } = clientsFor(sb, sb.hubCredentials());
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${accountId}:role/tether/tether-agent`,
      RoleSessionName: `tether-${accountId}`,
    }),
  );
  const c = out.Credentials!;
  return {
    accessKeyId: c.AccessKeyId!,
    secretAccessKey: c.SecretAccessKey!,
    sessionToken: c.SessionToken!,
    expiration: c.Expiration!,
  };
}

/** Clients acting as the agent role of `accountId`. */
export async function agentClients(sb: Sandbox, accountId: string, region = 'ap-southeast-1') {
  return clientsFor(sb, await agentCredentials(sb, accountId), region);
}

/** The rejection of `promise`, failing the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, any>;
  }
  throw new Error('expected the call to fail');
}

/** A trust policy document. */
export function trustPolicy(statement: Record<string, unknown> | Record<string, unknown>[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: Array.isArray(statement) ? statement : [statement],
  });
}
