/**
 * The sandbox's HTTP door, spoken to by the real SDK v3 clients over the network (no
 * plugin): SigV4 checked against the credentials the sandbox issued, the query and
 * restJson protocols, unsigned AssumeRoleWithWebIdentity with tokens minted by a cluster's
 * issuer, presigned GetCallerIdentity as aws-iam-authenticator calls it, the issuers'
 * discovery documents — and one call log with the in-process door.
 */
import { createHash, createHmac } from 'node:crypto';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AwsDoor, startAwsDoor } from '#local/adapters/aws-http/index';
import { Sandbox, type SandboxCredentials } from '#local/sandbox/index';
import { rejectionOf, trustPolicy } from '../sandbox/helpers';

const SOURCE = '111111111111';
const REGION = 'ap-southeast-1';

let sb: Sandbox;
let door: AwsDoor;
let issuer: string;

const over = (credentials: SandboxCredentials | undefined, region = REGION) => ({
  region,
  endpoint: door.url,
  maxAttempts: 1,
  ...(credentials ? { credentials } : {}),
});

beforeAll(async () => {
  sb = Sandbox.open();
  await sb.ensureIssuerKeys();
  door = await startAwsDoor(sb);
  issuer = sb.state().accounts[SOURCE]!.regions[REGION]!.eks.clusters['cluster-a']!.oidcIssuer!;
  // The IRSA set-up of the source account, made over HTTP by its root.
  const iam = new IAMClient(over(sb.rootCredentials(SOURCE), 'us-east-1'));
  await iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: ['sts.amazonaws.com'] }),
  );
  const host = issuer.replace('https://', '');
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'workload',
      AssumeRolePolicyDocument: trustPolicy({
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${SOURCE}:oidc-provider/${host}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${host}:sub`]: 'system:serviceaccount:app:api',
            [`${host}:aud`]: 'sts.amazonaws.com',
          },
        },
      }),
    }),
  );
  iam.destroy();
});
afterAll(async () => {
  await door?.close();
});

describe('the AWS door', () => {
  it('answers STS GetCallerIdentity to a request signed with issued credentials, in the shared call log', async () => {
    const sts = new STSClient(over(sb.rootCredentials(SOURCE)));
    const out = await sts.send(new GetCallerIdentityCommand({}));
    expect(out.Account).toBe(SOURCE);
    expect(out.Arn).toBe(`arn:aws:iam::${SOURCE}:root`);
    const last = sb.calls().at(-1);
    expect(last).toMatchObject({ service: 'sts', operation: 'GetCallerIdentity', ok: true, door: 'http' });
  });

  it('refuses a signature made with another secret (SignatureDoesNotMatch) or another session token', async () => {
    const root = sb.rootCredentials(SOURCE);
    const wrongSecret = await rejectionOf(
      new STSClient(over({ ...root, secretAccessKey: `${root.secretAccessKey}x` })).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(wrongSecret.name).toBe('SignatureDoesNotMatch');
    expect(wrongSecret.$metadata.httpStatusCode).toBe(403);
    const wrongToken = await rejectionOf(
      new STSClient(over({ ...root, sessionToken: 'not-issued' })).send(new GetCallerIdentityCommand({})),
    );
    expect(wrongToken.name).toBe('InvalidClientTokenId');
    const unknown = await rejectionOf(
      new STSClient(over({ accessKeyId: 'AKIANOTISSUED', secretAccessKey: 'x' })).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(unknown.name).toBe('InvalidClientTokenId');
  });

  it('honours session expiry', async () => {
    const session = sb.sessionCredentials(`arn:aws:iam::${SOURCE}:role/tether/tether-agent`, 'short');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 2 * 3600 * 1000);
      const err = await rejectionOf(new STSClient(over(session)).send(new GetCallerIdentityCommand({})));
      expect(err.name).toBe('ExpiredToken');
    } finally {
      vi.useRealTimers();
    }
  });

  it("exchanges a token minted by the cluster's issuer for the workload role, unsigned, and refuses others", async () => {
    const sts = new STSClient(over(undefined));
    const token = await sb.mintServiceAccountToken({ issuer, namespace: 'app', serviceAccount: 'api' });
    const out = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${SOURCE}:role/workload`,
        RoleSessionName: 'pod',
        WebIdentityToken: token,
      }),
    );
    expect(out.SubjectFromWebIdentityToken).toBe('system:serviceaccount:app:api');
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${SOURCE}:assumed-role/workload/pod`);
    const who = await new STSClient(
      over({
        accessKeyId: out.Credentials!.AccessKeyId!,
        secretAccessKey: out.Credentials!.SecretAccessKey!,
        sessionToken: out.Credentials!.SessionToken!,
      }),
    ).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${SOURCE}:assumed-role/workload/pod`);

    const assume = async (webToken: string) =>
      rejectionOf(
        sts.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: `arn:aws:iam::${SOURCE}:role/workload`,
            RoleSessionName: 'pod',
            WebIdentityToken: webToken,
          }),
        ),
      );
    const otherSa = await assume(
      await sb.mintServiceAccountToken({ issuer, namespace: 'app', serviceAccount: 'other' }),
    );
    expect([otherSa.name, otherSa.message]).toEqual([
      'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity',
    ]);
    const otherAud = await assume(
      await sb.mintServiceAccountToken({
        issuer,
        namespace: 'app',
        serviceAccount: 'api',
        audience: 'vault',
      }),
    );
    expect([otherAud.name, otherAud.message]).toEqual([
      'InvalidIdentityTokenException',
      'Incorrect token audience',
    ]);
    const expired = await assume(
      await sb.mintServiceAccountToken({
        issuer,
        namespace: 'app',
        serviceAccount: 'api',
        now: new Date(Date.now() - 2 * 86_400_000),
      }),
    );
    expect(expired.name).toBe('ExpiredTokenException');
    const tampered = token.replace(/\.([^.]+)\./, (_m, payload: string) => {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      return `.${Buffer.from(JSON.stringify({ ...claims, sub: 'system:serviceaccount:app:admin' })).toString('base64url')}.`;
    });
    expect((await assume(tampered)).name).toBe('InvalidIdentityTokenException');
    expect((await assume('not-a-jwt')).name).toBe('InvalidIdentityTokenException');
  });

  it('serves IAM GetRole and EKS DescribeCluster as the CLI reads them', async () => {
    const root = sb.rootCredentials(SOURCE);
    const role = await new IAMClient(over(root, 'us-east-1')).send(
      new GetRoleCommand({ RoleName: 'workload' }),
    );
    expect(role.Role?.Arn).toBe(`arn:aws:iam::${SOURCE}:role/workload`);
    expect(JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!)).Statement[0].Action).toBe(
      'sts:AssumeRoleWithWebIdentity',
    );
    expect(role.Role?.CreateDate).toBeInstanceOf(Date);
    const cluster = await new EKSClient(over(root)).send(new DescribeClusterCommand({ name: 'cluster-a' }));
    expect(cluster.cluster?.identity?.oidc?.issuer).toBe(issuer);
    expect(cluster.cluster?.createdAt?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    const missing = await rejectionOf(
      new EKSClient(over(root)).send(new DescribeClusterCommand({ name: 'nope' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('answers a presigned GetCallerIdentity with x-k8s-aws-id signed, as aws-iam-authenticator calls it', async () => {
    const root = sb.rootCredentials(SOURCE);
    class Sha256 {
      readonly #h;
      constructor(secret?: SourceData) {
        this.#h = secret ? createHmac('sha256', Buffer.from(secret as string)) : createHash('sha256');
      }
      update(d: SourceData) {
        this.#h.update(typeof d === 'string' ? d : Buffer.from(d as Uint8Array));
      }
      async digest() {
        return new Uint8Array(this.#h.digest());
      }
    }
    const signer = new SignatureV4({ service: 'sts', region: REGION, credentials: root, sha256: Sha256 });
    const presign = (signingDate?: Date) =>
      signer.presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port: door.port,
          path: '/',
          query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
          headers: { host: door.host, 'x-k8s-aws-id': 'cluster-b' },
        },
        { expiresIn: 60, ...(signingDate ? { signingDate } : {}) },
      );
    const urlOf = (r: Awaited<ReturnType<typeof presign>>) =>
      `${door.url}/?${new URLSearchParams(r.query as Record<string, string>).toString()}`;
    const url = urlOf(await presign());
    const ok = await fetch(url, { headers: { 'x-k8s-aws-id': 'cluster-b', accept: 'application/json' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).GetCallerIdentityResponse.GetCallerIdentityResult.Account).toBe(SOURCE);
    // A token made for another cluster: the signed header differs.
    const other = await fetch(url, { headers: { 'x-k8s-aws-id': 'cluster-d', accept: 'application/json' } });
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).Error.Code).toBe('SignatureDoesNotMatch');
    const stale = await fetch(urlOf(await presign(new Date(Date.now() - 120_000))), {
      headers: { 'x-k8s-aws-id': 'cluster-b' },
    });
    expect(stale.status).toBe(403);
    expect(await stale.text()).toContain('<Code>RequestExpired</Code>');
  });

  it("serves each hosted issuer's discovery document and JWKS, and nothing for others", async () => {
    const discovery = (await (await fetch(door.discoveryUrl(issuer))).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(discovery.issuer).toBe(issuer);
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as {
      keys: { kid: string; alg: string; d?: string }[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: sb.issuerKey(issuer)!.kid, alg: 'RS256' });
    expect(jwks.keys[0]?.d).toBeUndefined();
    expect((await fetch(door.discoveryUrl('https://oidc.example.com/id/X'))).status).toBe(404);
  });

  it('refuses an unsigned call other than AssumeRoleWithWebIdentity', async () => {
    const res = await fetch(`${door.url}/?Action=GetCallerIdentity&Version=2011-06-15`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>MissingAuthenticationToken</Code>');
  });
});
