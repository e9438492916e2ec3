/**
 * Identity mode `roles-anywhere` (the Roles Anywhere runbook, seed 002), end to end through
 * the HTTP API against the sandbox: Tether makes the source cluster's CA (returning its
 * cert-manager Secret once), the trust anchor, the workload's profile and role; a client
 * certificate issued from that CA for this workload gets a session through the sandbox's
 * CreateSession and chains to the target role; a certificate for another workload, from
 * another CA, or expired is refused; bad CA input is a 400 that changes nothing; the
 * trust anchor is shared by the cluster's links and goes with the last; offboarding leaves
 * nothing.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { workloadRoleName } from '#link/names';
import { attachSandbox } from '#local/adapters/sdk-plugin';
import { createSessionStringToSign, rolesAnywhereOf } from '#local/sandbox/roles-anywhere';
import type { RegionState } from '#local/sandbox/state';
import { ConcurrentUpdateError } from '#link/errors';
import type { Link } from '#link/model';
import { signCertificate } from '#link/certificates';
import { generateClusterCa, releaseTrustAnchorStep, trustAnchorStep } from '#resources/roles-anywhere';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';
const REGION = 'ap-southeast-1';
const NS = 'kubeai-chatbot';
const SA = 'kubeai-chatbot';
const DAY = 86_400_000;

let h: Harness;

/** The demo request in mode roles-anywhere with no network rule, for `serviceAccount` when given. */
const raRequest = (overrides: Record<string, unknown> = {}, serviceAccount?: string) =>
  demoRequest({
    ...(serviceAccount ? { source: { ...demoRequest().source, serviceAccount } } : {}),
    identity: { mode: 'roles-anywhere', ...overrides },
    network: { mode: 'none' },
  });

/** The source account's Roles Anywhere state in the sandbox. */
const raState = () => {
  const region = h.rt.sandbox.state().accounts[SOURCE]?.regions[REGION];
  return region
    ? rolesAnywhereOf(structuredClone(region) as RegionState)
    : { trustAnchors: {}, profiles: {} };
};

/** A client certificate issued by `ca` for `cn`, valid from `from` to `to`. */
function clientCertificate(
  ca: { certificatePem: string; privateKeyPem: string },
  cn: string,
  from = new Date(Date.now() - 60_000),
  to = new Date(Date.now() + DAY),
): { pem: string; key: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caCert = forge.pki.certificateFromPem(ca.certificatePem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const serial = randomBytes(12);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  signCertificate(cert, ca.privateKeyPem);
  return { pem: forge.pki.certificateToPem(cert), key: privateKey };
}

/** The sidecar's credential exchange: CreateSession signed with the certificate's key. */
function createSession(
  cert: { pem: string; key: KeyObject },
  arns: { trustAnchorArn: string; profileArn: string; roleArn: string },
) {
  const timestamp = new Date().toISOString();
  const signature = sign('sha256', Buffer.from(createSessionStringToSign({ ...arns, timestamp })), cert.key);
  return h.rt.sandbox.invoke(
    'rolesanywhere',
    'CreateSession',
    { ...arns, certificate: cert.pem, timestamp, signature: signature.toString('base64') },
    { accessKeyId: '', region: REGION },
  ) as Promise<{
    credentialSet: { credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } }[];
  }>;
}

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('POST /links with identity mode roles-anywhere: bad CA input', () => {
  it('refuses a CA certificate that is not a CA, with 400 problem+json, and makes nothing', async () => {
    const ca = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'x' });
    const leaf = clientCertificate(ca, 'not-a-ca');
    const res = await h.api('POST', '/links', raRequest({ caCertificate: leaf.pem }));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body)).toContain('not a CA certificate');
    expect((await h.api('GET', '/links')).body.items).toHaveLength(0);
    expect(Object.keys(raState().trustAnchors)).toHaveLength(0);
  });

  it('refuses a PEM holding a private key, without echoing the key', async () => {
    const ca = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'x' });
    const res = await h.api(
      'POST',
      '/links',
      raRequest({ caCertificate: ca.certificatePem + ca.privateKeyPem }),
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body)).toContain('holds a private key');
    expect(JSON.stringify(res.body)).not.toContain('PRIVATE KEY');
    expect((await h.api('GET', '/links')).body.items).toHaveLength(0);
  });

  it('refuses an expired CA certificate', async () => {
    const ca = generateClusterCa(
      { accountId: SOURCE, region: REGION, cluster: 'x' },
      new Date(Date.now() - 3651 * DAY),
    );
    const res = await h.api('POST', '/links', raRequest({ caCertificate: ca.certificatePem }));
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('expired');
  });

  it('refuses caCertificate in another mode', async () => {
    const ca = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'x' });
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        identity: { mode: 'irsa', caCertificate: ca.certificatePem },
        network: { mode: 'none' },
      }),
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('caCertificate is for mode roles-anywhere');
  });
});

describe('POST /plans with identity mode roles-anywhere', () => {
  it('names the trust anchor and the profile it would make, and makes nothing', async () => {
    const res = await h.api('POST', '/plans', raRequest());
    expect(res.status).toBe(200);
    expect(res.body.targets[0].resources).toMatchObject({
      trustAnchor: expect.stringMatching(/^tether-cluster-a-/),
      rolesAnywhereProfile: expect.stringMatching(/^tether-w-kubeai-chatbot-kubeai-chatbot-/),
    });
    expect(Object.keys(raState().trustAnchors)).toHaveLength(0);
  });
});

describe('identity mode roles-anywhere, end to end', () => {
  let link: any;
  let ca: { certificatePem: string; privateKeyPem: string };
  let second: any;

  it('makes the CA and returns its cert-manager Secret once; the link never holds the key', async () => {
    const res = await h.api('POST', '/links', raRequest(), { 'idempotency-key': 'ra-1' });
    expect(res.status).toBe(202);
    const secret = YAML.parse(res.body.caSecret);
    expect(secret).toMatchObject({ kind: 'Secret', type: 'kubernetes.io/tls', metadata: { namespace: NS } });
    ca = { certificatePem: secret.stringData['tls.crt'], privateKeyPem: secret.stringData['tls.key'] };
    expect(ca.privateKeyPem).toContain('PRIVATE KEY');
    link = await h.settle(res.body.links[0].id);
    expect(link.status).toBe('ACTIVE');
    expect(JSON.stringify(link)).not.toContain('PRIVATE KEY');
    expect(link.spec.identity.caCertificate).toBe(ca.certificatePem);
    // A replay answers the same links, without the key.
    const replay = await h.api('POST', '/links', raRequest(), { 'idempotency-key': 'ra-1' });
    expect(replay.body.links[0].id).toBe(link.id);
    expect(replay.body.caSecret).toBeUndefined();
  });

  it('makes the trust anchor for the CA, the profile for the workload role, and a trust scoped to both', async () => {
    const state = raState();
    const anchors = Object.values(state.trustAnchors);
    expect(anchors).toHaveLength(1);
    expect(anchors[0]?.certificatePem).toBe(ca.certificatePem);
    expect(anchors[0]?.trustAnchorArn).toBe(link.outputs.trustAnchorArn);
    const profiles = Object.values(state.profiles);
    expect(profiles).toHaveLength(1);
    expect(profiles[0]?.roleArns).toEqual([link.outputs.workloadRoleArn]);
    expect(profiles[0]?.enabled).toBe(true);
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const role = await iam.send(new GetRoleCommand({ RoleName: workloadRoleName(link.spec.source) }));
    const trust = JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '{}'));
    expect(trust.Statement[0]).toMatchObject({
      Principal: { Service: 'rolesanywhere.amazonaws.com' },
      Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
      Condition: {
        StringEquals: { 'aws:PrincipalTag/x509Subject/CN': `${SA}.${NS}` },
        ArnEquals: { 'aws:SourceArn': link.outputs.trustAnchorArn },
      },
    });
  });

  it('gives a session to a certificate of this workload from the CA, which chains to the target role', async () => {
    const arns = {
      trustAnchorArn: link.outputs.trustAnchorArn,
      profileArn: link.outputs.profileArn,
      roleArn: link.outputs.workloadRoleArn,
    };
    const out = await createSession(clientCertificate(ca, `${SA}.${NS}`), arns);
    const creds = out.credentialSet[0]?.credentials;
    expect(creds?.accessKeyId).toMatch(/^ASIA/);
    const sts = attachSandbox(
      new STSClient({
        region: REGION,
        maxAttempts: 1,
        credentials: {
          accessKeyId: creds?.accessKeyId ?? '',
          secretAccessKey: creds?.secretAccessKey ?? '',
          sessionToken: creds?.sessionToken ?? '',
        },
      }),
      h.rt.sandbox,
      'sts',
    );
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: link.outputs.targetRoleArn, RoleSessionName: 'kubectl' }),
    );
    expect(assumed.AssumedRoleUser?.Arn).toContain(':assumed-role/');
  });

  it('refuses a certificate for another workload, from another CA, expired, or with the wrong key', async () => {
    const arns = {
      trustAnchorArn: link.outputs.trustAnchorArn,
      profileArn: link.outputs.profileArn,
      roleArn: link.outputs.workloadRoleArn,
    };
    const refused = (p: Promise<unknown>) =>
      expect(p).rejects.toMatchObject({ code: 'AccessDeniedException' });
    await refused(createSession(clientCertificate(ca, `other.${NS}`), arns));
    const otherCa = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'elsewhere' });
    await refused(createSession(clientCertificate(otherCa, `${SA}.${NS}`), arns));
    await refused(
      createSession(
        clientCertificate(ca, `${SA}.${NS}`, new Date(Date.now() - 2 * DAY), new Date(Date.now() - DAY)),
        arns,
      ),
    );
    const stolen = clientCertificate(ca, `${SA}.${NS}`);
    await refused(createSession({ pem: stolen.pem, key: clientCertificate(ca, 'x').key }, arns));
  });

  it('verifies the chain hop by hop: anchor, profile, certificate trust and its scope, role chain', async () => {
    const hops = link.steps.verify.result.hops as { hop: string; ok: boolean }[];
    expect(hops.filter((x) => !x.ok)).toEqual([]);
    expect(hops.map((x) => x.hop)).toEqual(
      expect.arrayContaining([
        'trust-anchor-holds-ca',
        'profile-lists-workload-role',
        'certificate→workload-role',
        'trust-is-scoped',
        'trust-is-scoped-to-anchor',
        'workload-role→target-role',
        'target-role-takes-source-identity',
        'target-role-trusts-workload-role',
      ]),
    );
    const res = await h.api('POST', `/links/${link.id}/verify`);
    expect(res.status).toBe(200);
    expect(res.body.verification.ok).toBe(true);
  });

  it('reconciles with no change when nothing drifted, and puts a deleted profile back', async () => {
    const before = h.rt.sandbox.calls().length;
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('ACTIVE');
    const mutations = h.rt.sandbox
      .calls()
      .slice(before)
      .filter((c) => c.mutating && c.ok);
    expect(mutations.filter((c) => c.service === 'rolesanywhere' || c.service === 'iam')).toEqual([]);
    // Someone deletes the profile by hand: verify says so, reconcile makes it again.
    const [profile] = Object.values(raState().profiles);
    await h.rt.sandbox.invoke(
      'rolesanywhere',
      'DeleteProfile',
      { profileId: profile?.profileId },
      { accessKeyId: h.rt.sandbox.rootCredentials(SOURCE).accessKeyId, region: REGION },
    );
    const broken = await h.api('POST', `/links/${link.id}/verify`);
    expect(broken.body.verification.ok).toBe(false);
    expect(broken.body.verification.hops.find((x: any) => x.hop === 'profile-lists-workload-role').ok).toBe(
      false,
    );
    expect((await h.api('POST', `/links/${link.id}/reconcile`)).status).toBe(202);
    link = await h.settle(link.id);
    expect(link.status).toBe('ACTIVE');
    expect(Object.values(raState().profiles).map((p) => p.roleArns)).toEqual([
      [link.outputs.workloadRoleArn],
    ]);
  });

  it('renders the cert-manager Issuer, Certificate, ConfigMap and the signing-helper sidecar', async () => {
    const res = await h.api('GET', `/links/${link.id}/manifests`);
    expect(res.status).toBe(200);
    const docs = YAML.parseAllDocuments(res.text).map((d) => d.toJSON());
    const byKind = (kind: string) => docs.find((d) => d.kind === kind);
    new Issuer(byKind('Issuer')).validate();
    const cert = new Certificate(byKind('Certificate'));
    cert.validate();
    expect(cert.spec?.commonName).toBe(`${SA}.${NS}`);
    const cm = new ConfigMap(byKind('ConfigMap'));
    cm.validate();
    expect(cm.data).toEqual({
      TRUST_ANCHOR_ARN: link.outputs.trustAnchorArn,
      PROFILE_ARN: link.outputs.profileArn,
      ROLE_ARN: link.outputs.workloadRoleArn,
    });
    const patch = byKind('Deployment');
    const deployment = new Deployment({
      ...patch,
      spec: {
        selector: { matchLabels: { app: SA } },
        template: { metadata: { labels: { app: SA } }, spec: patch.spec.template.spec },
      },
    });
    for (const c of patch.spec.template.spec.containers) c.image ??= 'public.ecr.aws/example/app:1';
    deployment.validate();
    const sidecar = patch.spec.template.spec.containers.find((c: any) => c.name === 'tether-roles-anywhere');
    expect(sidecar.args.slice(0, 1)).toEqual(['serve']);
    expect(sidecar.envFrom[0].configMapRef.name).toBe(cm.metadata?.name);
  });

  it('shares the trust anchor with a second workload of the cluster that gives the same CA', async () => {
    const res = await h.api('POST', '/links', raRequest({ caCertificate: ca.certificatePem }, 'second'));
    expect(res.status).toBe(202);
    expect(res.body.caSecret).toBeUndefined();
    second = await h.settle(res.body.links[0].id);
    expect(second.status).toBe('ACTIVE');
    expect(second.outputs.trustAnchorArn).toBe(link.outputs.trustAnchorArn);
    expect(Object.keys(raState().trustAnchors)).toHaveLength(1);
    expect(Object.keys(raState().profiles)).toHaveLength(2);
  });

  it('makes one anchor and one profile for a request with two targets, whose links run at once', async () => {
    const body = raRequest({ caCertificate: ca.certificatePem }, 'fanout');
    body.targets = [
      ...body.targets,
      {
        accountId: '333333333333',
        region: 'eu-west-1',
        cluster: 'cluster-d',
        access: {
          policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
          scope: { type: 'cluster' },
        },
      },
    ];
    const res = await h.api('POST', '/links', body);
    expect(res.status).toBe(202);
    const fanout = await Promise.all(res.body.links.map((l: { id: string }) => h.settle(l.id)));
    expect(fanout.map((l) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(Object.keys(raState().trustAnchors)).toHaveLength(1);
    const profiles = Object.values(raState().profiles).filter(
      (p) => p.roleArns[0] === fanout[0].outputs.workloadRoleArn,
    );
    expect(profiles).toHaveLength(1);
    for (const l of fanout) {
      expect((await h.api('DELETE', `/links/${l.id}`)).status).toBe(202);
      expect((await h.settle(l.id)).status).toBe('DELETED');
    }
    expect(Object.keys(raState().profiles)).toHaveLength(2);
  });

  it('gives a workload that brings another CA its own anchor, whose certificates no other workload role accepts', async () => {
    // Arrange: a caller who may link only workload other-ca brings a CA whose key they hold.
    const otherCa = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'cluster-a' });
    const res = await h.api(
      'POST',
      '/links',
      raRequest({ caCertificate: otherCa.certificatePem }, 'other-ca'),
    );
    expect(res.status).toBe(202);
    const theirs = await h.settle(res.body.links[0].id);
    expect(theirs.status).toBe('ACTIVE');
    expect(theirs.outputs.trustAnchorArn).not.toBe(link.outputs.trustAnchorArn);
    expect(Object.keys(raState().trustAnchors)).toHaveLength(2);
    // Act: they mint a certificate with the first workload's CN from their CA, and present it
    // through their own anchor and through the first workload's.
    const forged = clientCertificate(otherCa, `${SA}.${NS}`);
    const victim = { profileArn: link.outputs.profileArn, roleArn: link.outputs.workloadRoleArn };
    // Assert: the first workload's role trusts its own anchor only; its anchor, only its CA.
    await expect(
      createSession(forged, { ...victim, trustAnchorArn: theirs.outputs.trustAnchorArn }),
    ).rejects.toMatchObject({
      code: 'AccessDeniedException',
    });
    await expect(
      createSession(forged, { ...victim, trustAnchorArn: link.outputs.trustAnchorArn }),
    ).rejects.toMatchObject({
      code: 'AccessDeniedException',
    });
    // The same workload with a third CA: refused before anything is made (one role, one CA).
    const third = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'cluster-a' });
    const mismatch = await h.api('POST', '/links', {
      ...raRequest({ caCertificate: third.certificatePem }, 'other-ca'),
      targets: [
        {
          accountId: '333333333333',
          region: 'eu-west-1',
          cluster: 'cluster-d',
          access: demoRequest().targets[0].access,
        },
      ],
    });
    expect(mismatch.status).toBe(409);
    expect(mismatch.body.code).toBe('LINK_SPEC_MISMATCH');
    expect(Object.keys(raState().trustAnchors)).toHaveLength(2);
    // A new workload without a CA gets a CA of its own, never another workload's.
    const plain = await h.api('POST', '/links', raRequest({}, 'no-ca'));
    expect(plain.body.caSecret).toContain('PRIVATE KEY');
    const fresh = await h.settle(plain.body.links[0].id);
    expect(fresh.status).toBe('ACTIVE');
    expect([ca.certificatePem, otherCa.certificatePem]).not.toContain(fresh.spec.identity.caCertificate);
    for (const l of [fresh, theirs]) {
      expect((await h.api('DELETE', `/links/${l.id}`)).status).toBe(202);
      expect((await h.settle(l.id)).status).toBe('DELETED');
    }
    expect(Object.values(raState().trustAnchors).map((a) => a.certificatePem)).toEqual([ca.certificatePem]);
  });

  it('undoes what a failed link made: its profile and role go, the shared anchor stays', async () => {
    h.rt.sandbox.injectFault({
      service: 'eks',
      operation: 'CreateAccessEntry',
      code: 'InvalidRequestException',
    });
    const res = await h.api('POST', '/links', raRequest({ caCertificate: ca.certificatePem }, 'undone'));
    const failed = await h.settle(res.body.links[0].id);
    expect(failed.status).toBe('FAILED');
    const profiles = Object.values(raState().profiles).map((p) => p.name);
    expect(profiles.some((n) => n.includes('undone'))).toBe(false);
    expect(Object.keys(raState().trustAnchors)).toHaveLength(1);
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    await expect(
      iam.send(new GetRoleCommand({ RoleName: workloadRoleName(failed.spec.source) })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    expect((await h.api('DELETE', `/links/${failed.id}`)).status).toBe(202);
    expect((await h.settle(failed.id)).status).toBe('DELETED');
  });

  it('refuses a link of mode irsa for a workload whose role trusts its certificates, leaving that trust as it is', async () => {
    // Arrange: the workload of `link` (roles-anywhere) asks for an irsa link to another cluster.
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    const roleName = workloadRoleName(link.spec.source);
    const trustBefore = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role
      ?.AssumeRolePolicyDocument;
    // Act
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        source: link.spec.source,
        targets: [
          {
            accountId: '333333333333',
            region: 'eu-west-1',
            cluster: 'cluster-d',
            access: {
              policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
              scope: { type: 'cluster' },
            },
          },
        ],
        network: { mode: 'none' },
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const refused = await h.settle(res.body.links[0].id);
    // Assert: the link fails at the workload role, naming the other link's mode; the role's trust is untouched.
    expect(refused.status).toBe('FAILED');
    expect(refused.error?.step).toBe('workloadRole');
    expect(refused.error?.message).toContain('uses identity mode roles-anywhere');
    const trustAfter = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role
      ?.AssumeRolePolicyDocument;
    expect(trustAfter).toBe(trustBefore);
    expect((await h.api('DELETE', `/links/${refused.id}`)).status).toBe(202);
    expect((await h.settle(refused.id)).status).toBe('DELETED');
    expect((await h.api('GET', `/links/${link.id}`)).body.status).toBe('ACTIVE');
  });

  it('keeps the anchor while a link uses it, and leaves nothing when the last goes', async () => {
    expect((await h.api('DELETE', `/links/${link.id}`)).status).toBe(202);
    expect((await h.settle(link.id)).status).toBe('DELETED');
    expect(Object.keys(raState().trustAnchors)).toHaveLength(1);
    expect(Object.values(raState().profiles).map((p) => p.roleArns[0])).toEqual([
      second.outputs.workloadRoleArn,
    ]);
    expect((await h.api('DELETE', `/links/${second.id}`)).status).toBe(202);
    expect((await h.settle(second.id)).status).toBe('DELETED');
    expect(raState()).toEqual({ trustAnchors: {}, profiles: {} });
    const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
    await expect(
      iam.send(new GetRoleCommand({ RoleName: workloadRoleName(link.spec.source) })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
  });
});

describe('Ensure OIDC provider in mode roles-anywhere, two links of one cluster at once', () => {
  it('makes one trust anchor: the second waits (ConcurrentUpdateError, retried) and then finds it', async () => {
    const ca = generateClusterCa({ accountId: SOURCE, region: REGION, cluster: 'race' });
    const linkOf = (id: string) =>
      ({
        id,
        spec: {
          source: { accountId: SOURCE, region: REGION, cluster: 'race', namespace: 'n', serviceAccount: id },
          identity: { mode: 'roles-anywhere', caCertificate: ca.certificatePem },
        },
        outputs: {},
      }) as unknown as Link;
    const deps = h.rt.runtime;
    const [a, b] = await Promise.allSettled([
      trustAnchorStep(linkOf('a'), deps),
      trustAnchorStep(linkOf('b'), deps),
    ]);
    const anchors = () =>
      Object.values(raState().trustAnchors).filter((x) => x.name.startsWith('tether-race-'));
    expect(anchors()).toHaveLength(1);
    const lost = [a, b].find((r) => r.status === 'rejected');
    const won = [a, b].find((r) => r.status === 'fulfilled');
    expect((lost as PromiseRejectedResult | undefined)?.reason).toBeInstanceOf(ConcurrentUpdateError);
    const retried = await trustAnchorStep(linkOf(lost === a ? 'a' : 'b'), deps);
    expect(retried.result.action).toBe('unchanged');
    expect(retried.outputs.trustAnchorArn).toBe(
      (won as PromiseFulfilledResult<{ outputs: { trustAnchorArn: string } }>).value.outputs.trustAnchorArn,
    );
    await releaseTrustAnchorStep(linkOf('a'), deps);
    expect(anchors()).toHaveLength(1);
    await releaseTrustAnchorStep(linkOf('b'), deps);
    expect(anchors()).toHaveLength(0);
  });
});
