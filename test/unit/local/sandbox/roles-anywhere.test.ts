/**
 * The sandbox's IAM Roles Anywhere (local/sandbox/roles-anywhere.ts) under the real SDK
 * client: a trust anchor takes a CA certificate only, ids are AWS's (two anchors may share a
 * name), a missing resource is the SDK's ResourceNotFoundException, tags are `{key, value}`.
 */
import {
  CreateProfileCommand,
  CreateTrustAnchorCommand,
  DeleteTrustAnchorCommand,
  GetTrustAnchorCommand,
  ListTagsForResourceCommand,
  ListTrustAnchorsCommand,
  RolesAnywhereClient,
} from '@aws-sdk/client-rolesanywhere';
import { describe, expect, it } from 'vitest';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { Sandbox } from '#local/sandbox/index';
import { generateClusterCa } from '#resources/roles-anywhere';
import { agentCredentials, rejectionOf } from './helpers';

const ACCOUNT = '111111111111';
const REGION = 'ap-southeast-1';

async function client(sb: Sandbox) {
  const ra = new RolesAnywhereClient({
    region: REGION,
    credentials: await agentCredentials(sb, ACCOUNT),
    maxAttempts: 1,
  });
  // The Roles Anywhere client is of an older SDK line: its stack type differs, its protocol does not.
  (ra.middlewareStack as { use(plugin: unknown): void }).use(
    sandboxPlugin(sb, 'rolesanywhere', ra.config as never),
  );
  return ra;
}

const source = (pem: string) => ({
  sourceType: 'CERTIFICATE_BUNDLE' as const,
  sourceData: { x509CertificateData: pem },
});

describe('sandbox Roles Anywhere', () => {
  it('makes trust anchors with AWS-assigned ids, even two of one name, and lists their tags', async () => {
    const sb = Sandbox.open();
    const ra = await client(sb);
    const ca = generateClusterCa({ accountId: ACCOUNT, region: REGION, cluster: 'c' });
    const input = {
      name: 'same',
      enabled: true,
      source: source(ca.certificatePem),
      tags: [{ key: 'k', value: 'v' }],
    };
    const a = (await ra.send(new CreateTrustAnchorCommand(input))).trustAnchor;
    const b = (await ra.send(new CreateTrustAnchorCommand(input))).trustAnchor;
    expect(a?.trustAnchorArn).toMatch(
      new RegExp(`^arn:aws:rolesanywhere:${REGION}:${ACCOUNT}:trust-anchor/[0-9a-f-]{36}$`),
    );
    expect(a?.trustAnchorId).not.toBe(b?.trustAnchorId);
    expect((await ra.send(new ListTrustAnchorsCommand({}))).trustAnchors).toHaveLength(2);
    const tags = await ra.send(new ListTagsForResourceCommand({ resourceArn: a?.trustAnchorArn }));
    expect(tags.tags).toEqual([{ key: 'k', value: 'v' }]);
  });

  it('refuses a certificate that is not a CA as a trust anchor (ValidationException)', async () => {
    const sb = Sandbox.open();
    const ra = await client(sb);
    const err = await rejectionOf(
      ra.send(
        new CreateTrustAnchorCommand({
          name: 'x',
          source: source('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'),
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('answers ResourceNotFoundException for a deleted anchor', async () => {
    const sb = Sandbox.open();
    const ra = await client(sb);
    const ca = generateClusterCa({ accountId: ACCOUNT, region: REGION, cluster: 'c' });
    const a = (await ra.send(new CreateTrustAnchorCommand({ name: 'x', source: source(ca.certificatePem) })))
      .trustAnchor;
    await ra.send(new DeleteTrustAnchorCommand({ trustAnchorId: a?.trustAnchorId }));
    const err = await rejectionOf(ra.send(new GetTrustAnchorCommand({ trustAnchorId: a?.trustAnchorId })));
    expect(err.name).toBe('ResourceNotFoundException');
  });

  it('takes only IAM role ARNs in a profile', async () => {
    const sb = Sandbox.open();
    const ra = await client(sb);
    const err = await rejectionOf(ra.send(new CreateProfileCommand({ name: 'p', roleArns: ['not-an-arn'] })));
    expect(err.name).toBe('ValidationException');
    const ok = await ra.send(
      new CreateProfileCommand({
        name: 'p',
        enabled: true,
        roleArns: [`arn:aws:iam::${ACCOUNT}:role/tether/x`],
      }),
    );
    expect(ok.profile?.roleArns).toEqual([`arn:aws:iam::${ACCOUNT}:role/tether/x`]);
  });
});
