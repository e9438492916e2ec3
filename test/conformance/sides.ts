/**
 * The two sides of the conformance suite: the sandbox plugged in under real SDK v3
 * clients, and moto's server reached by the same clients over HTTP. A side hands out
 * clients acting as an account's root user, or with given credentials.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, Pluggable } from '@smithy/types';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { Sandbox } from '#local/sandbox/index';
import type { MotoServer } from './moto';

/** Real SDK clients of the services Tether calls. */
export interface Clients {
  readonly iam: IAMClient;
  readonly sts: STSClient;
  readonly eks: EKSClient;
  readonly ec2: EC2Client;
  readonly s3: S3Client;
}

export type SideName = 'sandbox' | 'moto';

/** One emulator the same calls run against. */
export interface Side {
  readonly name: SideName;
  /** Clients acting as the root user of `accountId` (the account is made if needed). */
  account(accountId: string, region?: string): Clients;
  /** Clients using `credentials` (e.g. those AssumeRole returned). */
  withCredentials(credentials: AwsCredentialIdentity, region?: string): Clients;
}

/** The region of the regional calls. */
export const REGION = 'ap-southeast-1';

type AnyClient = Clients[keyof Clients];

function makeClients(
  credentials: AwsCredentialIdentity,
  region: string,
  endpoint: string | undefined,
  plug: (client: AnyClient, service: keyof Clients) => void,
): Clients {
  const base = { credentials, maxAttempts: 1, ...(endpoint ? { endpoint } : {}) };
  const clients: Clients = {
    iam: new IAMClient({ ...base, region: 'us-east-1' }),
    sts: new STSClient({ ...base, region }),
    eks: new EKSClient({ ...base, region }),
    ec2: new EC2Client({ ...base, region }),
    s3: new S3Client({ ...base, region, forcePathStyle: true }),
  };
  for (const [service, client] of Object.entries(clients) as [keyof Clients, AnyClient][]) {
    plug(client, service);
  }
  return clients;
}

/** The sandbox's side, with the sandbox itself for seeding. */
export type SandboxSide = Side & { readonly sandbox: Sandbox };

/** A fresh, empty sandbox (no accounts but the hub's). */
export function sandboxSide(sandbox = Sandbox.open({ world: 'empty' })): SandboxSide {
  return {
    name: 'sandbox',
    sandbox,
    account: (accountId, region = REGION) => {
      sandbox.addAccount(accountId);
      return makeClients(sandbox.rootCredentials(accountId), region, undefined, (c, s) =>
        attachSandbox(c, sandbox, s),
      );
    },
    withCredentials: (credentials, region = REGION) =>
      makeClients(credentials, region, undefined, (c, s) => attachSandbox(c, sandbox, s)),
  };
}

/** Adds moto's `x-moto-account-id` header: moto serves the request in that account. */
export function motoAccountHeader(accountId: string): Pluggable<any, any> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (next) => async (args: any) => {
          const request = args.request as { headers?: Record<string, string> } | undefined;
          if (request?.headers) request.headers['x-moto-account-id'] = accountId;
          return next(args);
        },
        { step: 'build', name: 'motoAccountHeader', override: true },
      );
    },
  };
}

/**
 * moto's side. moto checks no signature: an account's "root" is any key plus the
 * account header; keys that moto's AssumeRole issued map to the role's account.
 */
export function motoSide(moto: MotoServer): Side {
  return {
    name: 'moto',
    account: (accountId, region = REGION) =>
      makeClients(
        { accessKeyId: `AKIAMOTO${accountId}`, secretAccessKey: 'moto-secret' },
        region,
        moto.endpoint,
        (c) => c.middlewareStack.use(motoAccountHeader(accountId)),
      ),
    withCredentials: (credentials, region = REGION) =>
      makeClients(credentials, region, moto.endpoint, () => undefined),
  };
}
