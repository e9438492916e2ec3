/**
 * IAM Roles Anywhere (identity mode `roles-anywhere`, the Roles Anywhere runbook:
 * docs/runbooks.md, seed 002): the source cluster's CA as a **trust anchor** (one per source
 * cluster, shared by its links: membership `TRUSTANCHOR#…`, removed with the last), a
 * **profile** per workload listing the workload role (removed with the workload role), and
 * the workload role trusting `rolesanywhere.amazonaws.com` for `sts:AssumeRole`,
 * `sts:TagSession` and `sts:SetSourceIdentity` only with a certificate of this workload
 * (`aws:PrincipalTag/x509Subject/CN`) from this anchor (`aws:SourceArn`).
 *
 * Why the trust pins the anchor: profiles and anchors are independent in Roles Anywhere, so
 * without `aws:SourceArn` any CA of any anchor of the account could mint a certificate with
 * this workload's CN (IAM Roles Anywhere user guide, "Trust model").
 *
 * Why a profile per workload, not per cluster: a profile's `roleArns` is one list; a shared
 * list would be read-modify-written by concurrent onboards of the cluster's workloads (lost
 * updates). A profile per workload never changes after it is made.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  CreateProfileCommand,
  CreateTrustAnchorCommand,
  DeleteProfileCommand,
  DeleteTrustAnchorCommand,
  ListProfilesCommand,
  ListTagsForResourceCommand,
  ListTrustAnchorsCommand,
  type ProfileDetail,
  type RolesAnywhereClient,
  type TrustAnchorDetail,
} from '@aws-sdk/client-rolesanywhere';
import forge from 'node-forge';
import YAML from 'yaml';
import { pemFingerprint, positiveSerial, selfSignedCa, workloadCommonName } from '#link/certificates';
import { ConflictUnmanagedResourceError, QuotaExceededError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { ClusterRef, Link, WorkloadRef } from '#link/model';
import { clusterKey, workloadKey, workloadRoleName } from '#link/names';
import type { PolicyDocument } from '#link/policy/evaluate';
import { isManaged, isOwnedBy, ownershipTags } from '#link/tags';
import { joinShared, leaveShared } from '#store/memberships';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { raIssuerNames } from './manifests';

export const ROLES_ANYWHERE_SERVICE = 'rolesanywhere.amazonaws.com';

/** Owner keys of the Roles Anywhere resources (the `tether:owner` tag). */
export const raOwners = {
  trustAnchor: (c: ClusterRef, caFingerprint: string) =>
    `trust-anchor:${clusterKey(c)}/${caFingerprint.slice(0, 16)}`,
  profile: (w: WorkloadRef) => `ra-profile:${clusterKey(w)}/${w.namespace}/${w.serviceAccount}`,
};

/** Roles Anywhere names take `[ a-zA-Z0-9-_]`, 1 to 255. */
const raSafe = (text: string) => text.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 255);

/**
 * The trust anchor of a source cluster's CA (one per cluster and CA, in the cluster's account
 * and Region): named by the CA's fingerprint, so links that bring different CAs never share
 * (or take over) each other's anchor.
 */
export function trustAnchorName(c: ClusterRef, caFingerprint: string): string {
  return raSafe(`tether-${c.cluster.slice(0, 200)}-${caFingerprint.slice(0, 16)}`);
}

/** The short CA id in names (Issuer, CA Secret, anchor, membership): 16 hex of its SHA-256. */
export function caId(caFingerprint: string): string {
  return caFingerprint.slice(0, 16);
}

/** The profile of a workload: named after its role. */
export function profileName(w: WorkloadRef): string {
  return raSafe(workloadRoleName(w));
}

/** The workload role's trust in mode `roles-anywhere` (see the file comment). */
export function rolesAnywhereTrustPolicy(w: WorkloadRef, trustAnchorArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RolesAnywhereCertificateOfThisWorkload',
        Effect: 'Allow',
        Principal: { Service: ROLES_ANYWHERE_SERVICE },
        Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
        Condition: {
          StringEquals: { 'aws:PrincipalTag/x509Subject/CN': workloadCommonName(w) },
          ArnEquals: { 'aws:SourceArn': trustAnchorArn },
        },
      },
    ],
  };
}

const tagsRecord = (tags: readonly { key?: string | undefined; value?: string | undefined }[] | undefined) =>
  Object.fromEntries((tags ?? []).map((t) => [t.key ?? '', t.value ?? '']));
const raTags = (owner: string) => ownershipTags(owner).map((t) => ({ key: t.Key, value: t.Value }));

async function tagsOf(ra: RolesAnywhereClient, arn: string): Promise<Record<string, string>> {
  return tagsRecord((await ra.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags);
}

/** Every item of a Roles Anywhere listing, page after page (`nextToken`). */
async function allPages<T>(page: (nextToken?: string) => Promise<{ items?: T[]; nextToken?: string }>) {
  const all: T[] = [];
  let nextToken: string | undefined;
  do {
    const out = await page(nextToken);
    all.push(...(out.items ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  return all;
}

/** Every trust anchor of the account in the client's Region (ListTrustAnchors, all pages). */
export function listTrustAnchors(ra: RolesAnywhereClient): Promise<TrustAnchorDetail[]> {
  return allPages(async (nextToken) => {
    const out = await ra.send(new ListTrustAnchorsCommand({ ...(nextToken ? { nextToken } : {}) }));
    return { items: out.trustAnchors, nextToken: out.nextToken };
  });
}

/** Every profile of the account in the client's Region (ListProfiles, all pages). */
export function listProfiles(ra: RolesAnywhereClient): Promise<ProfileDetail[]> {
  return allPages(async (nextToken) => {
    const out = await ra.send(new ListProfilesCommand({ ...(nextToken ? { nextToken } : {}) }));
    return { items: out.profiles, nextToken: out.nextToken };
  });
}

export async function findAnchor(
  ra: RolesAnywhereClient,
  name: string,
): Promise<TrustAnchorDetail | undefined> {
  return (await listTrustAnchors(ra)).find((a) => a.name === name);
}

export async function findProfile(ra: RolesAnywhereClient, name: string): Promise<ProfileDetail | undefined> {
  return (await listProfiles(ra)).find((p) => p.name === name);
}

/** SHA-256 of the certificate in a PEM (`#link/certificates`). */
export const fingerprintOf = pemFingerprint;

export interface EnsuredTrustAnchor {
  readonly arn: string;
  readonly id: string;
  readonly caFingerprint: string;
  readonly action: 'created' | 'unchanged';
}

/**
 * Makes sure the cluster's trust anchor holds `caPem`. An anchor of that name that is not
 * Tether's, or Tether's holding another CA (the cluster's other links use it), is a conflict:
 * replacing the CA would break those links.
 */
export async function ensureTrustAnchor(
  ra: RolesAnywhereClient,
  cluster: ClusterRef,
  caPem: string,
): Promise<EnsuredTrustAnchor> {
  const wanted = fingerprintOf(caPem) ?? '';
  const name = trustAnchorName(cluster, wanted);
  const owner = raOwners.trustAnchor(cluster, wanted);
  const existing = await findAnchor(ra, name);
  if (existing?.trustAnchorArn) {
    const tags = await tagsOf(ra, existing.trustAnchorArn);
    if (!isOwnedBy(tags, owner)) {
      throw new ConflictUnmanagedResourceError(
        existing.trustAnchorArn,
        `Trust anchor ${name} exists and was not made by Tether for ${clusterKey(cluster)}; Tether will not change it`,
      );
    }
    const held = fingerprintOf(existing.source?.sourceData?.x509CertificateData);
    if (held !== wanted) {
      throw new ConflictUnmanagedResourceError(
        existing.trustAnchorArn,
        `Trust anchor ${name} holds another CA (sha256 ${held}) than its name says; Tether will not change it`,
      );
    }
    return {
      arn: existing.trustAnchorArn,
      id: existing.trustAnchorId ?? '',
      caFingerprint: wanted,
      action: 'unchanged',
    };
  }
  try {
    const out = await ra.send(
      new CreateTrustAnchorCommand({
        name,
        enabled: true,
        source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: caPem } },
        tags: raTags(owner),
      }),
    );
    return {
      arn: out.trustAnchor?.trustAnchorArn ?? '',
      id: out.trustAnchor?.trustAnchorId ?? '',
      caFingerprint: wanted,
      action: 'created',
    };
  } catch (err) {
    if (isAwsError(err, 'ServiceQuotaExceededException'))
      throw new QuotaExceededError((err as Error).message, { cause: err });
    throw err;
  }
}

/** Deletes the cluster's trust anchor of a CA if it is Tether's; anyone else's is never touched. */
export async function deleteOwnedTrustAnchor(
  ra: RolesAnywhereClient,
  cluster: ClusterRef,
  caFingerprint: string,
) {
  const existing = await findAnchor(ra, trustAnchorName(cluster, caFingerprint));
  if (!existing?.trustAnchorArn) return { action: 'absent' };
  if (!isOwnedBy(await tagsOf(ra, existing.trustAnchorArn), raOwners.trustAnchor(cluster, caFingerprint)))
    return { action: 'left-unmanaged', arn: existing.trustAnchorArn };
  try {
    await ra.send(new DeleteTrustAnchorCommand({ trustAnchorId: existing.trustAnchorId }));
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
  }
  return { action: 'deleted', arn: existing.trustAnchorArn };
}

/** Makes sure the workload's profile exists, enabled, listing exactly its role. */
export async function ensureProfile(ra: RolesAnywhereClient, w: WorkloadRef, roleArn: string) {
  const name = profileName(w);
  const owner = raOwners.profile(w);
  const existing = await findProfile(ra, name);
  if (existing?.profileArn) {
    const tags = await tagsOf(ra, existing.profileArn);
    if (!isOwnedBy(tags, owner) || !isManaged(tags)) {
      throw new ConflictUnmanagedResourceError(
        existing.profileArn,
        `Roles Anywhere profile ${name} exists and was not made by Tether for this workload; Tether will not change it`,
      );
    }
    const roles = existing.roleArns ?? [];
    if (roles.length === 1 && roles[0] === roleArn && existing.enabled)
      return { arn: existing.profileArn, action: 'unchanged' as const };
    // Tether's own profile, changed by hand: put it back by re-making it.
    await ra.send(new DeleteProfileCommand({ profileId: existing.profileId }));
  }
  try {
    const out = await ra.send(
      new CreateProfileCommand({ name, enabled: true, roleArns: [roleArn], tags: raTags(owner) }),
    );
    return {
      arn: out.profile?.profileArn ?? '',
      action: existing ? ('updated' as const) : ('created' as const),
    };
  } catch (err) {
    if (isAwsError(err, 'ServiceQuotaExceededException'))
      throw new QuotaExceededError((err as Error).message, { cause: err });
    throw err;
  }
}

/** Deletes the workload's profile if it is Tether's. */
export async function deleteOwnedProfile(ra: RolesAnywhereClient, w: WorkloadRef) {
  const existing = await findProfile(ra, profileName(w));
  if (!existing?.profileArn) return { action: 'absent' };
  if (!isOwnedBy(await tagsOf(ra, existing.profileArn), raOwners.profile(w)))
    return { action: 'left-unmanaged', arn: existing.profileArn };
  try {
    await ra.send(new DeleteProfileCommand({ profileId: existing.profileId }));
  } catch (err) {
    if (!isAwsError(err, 'ResourceNotFoundException')) throw err;
  }
  return { action: 'deleted', arn: existing.profileArn };
}

/** The membership of a cluster's trust anchor for one CA. */
function anchorKey(cluster: ClusterRef, caFingerprint: string): string {
  return membership.trustAnchor(`${clusterKey(cluster)}/${caId(caFingerprint)}`);
}

/**
 * The "Ensure OIDC provider" step in mode `roles-anywhere`: join the membership of the
 * cluster's anchor for the link's CA, then ensure that anchor.
 */
export async function trustAnchorStep(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  const caPem = link.spec.identity.caCertificate;
  const fingerprint = fingerprintOf(caPem);
  if (!caPem || !fingerprint)
    throw new Error('roles-anywhere link without a readable CA certificate: the API should have refused it');
  const key = anchorKey(source, fingerprint);
  await joinShared(
    deps.memberships,
    key,
    membership.link(link.id),
    { linkId: link.id },
    deps.now().getTime(),
  );
  const anchor = await withEnsureLock(deps, `${key}#ENSURE`, link.id, () =>
    ensureTrustAnchor(deps.clients.rolesAnywhere(source.accountId, source.region), source, caPem),
  );
  return { result: { ...anchor }, outputs: { trustAnchorArn: anchor.arn } };
}

/** How long an ensure lock is held at most (a crashed holder's lock expires). */
export const ENSURE_LOCK_LEASE_MS = 60_000;

/**
 * Runs `ensure` under a lock of the table. Roles Anywhere names are not unique (two
 * CreateTrustAnchor calls with one name make two anchors) and ids are assigned by AWS, so
 * the links of one request (one workload, several targets, run in parallel) would each make
 * one: the read-then-create of a shared anchor or profile is serialised. A link that finds
 * the lock taken gets ConcurrentUpdateError, retried by the ASL; its re-run finds what the
 * holder made.
 */
export async function withEnsureLock<T>(
  deps: Pick<StepDeps, 'memberships' | 'now'>,
  key: string,
  owner: string,
  ensure: () => Promise<T>,
): Promise<T> {
  await deps.memberships.acquireRemovalLock(key, owner, deps.now().getTime(), ENSURE_LOCK_LEASE_MS);
  try {
    return await ensure();
  } finally {
    await deps.memberships.releaseRemovalLock(key, owner);
  }
}

/** The offboard step in mode `roles-anywhere`: leave the anchor of the link's CA; it goes with its last link. */
export async function releaseTrustAnchorStep(link: Link, deps: StepDeps) {
  const { source } = link.spec;
  const fingerprint = fingerprintOf(link.spec.identity.caCertificate);
  if (!fingerprint) return { result: { action: 'nothing-to-remove' } };
  const outcome = await leaveShared(
    deps.memberships,
    anchorKey(source, fingerprint),
    membership.link(link.id),
    link.id,
    deps.now().getTime(),
    () =>
      deleteOwnedTrustAnchor(
        deps.clients.rolesAnywhere(source.accountId, source.region),
        source,
        fingerprint,
      ),
  );
  return {
    result: outcome.removed
      ? { ...outcome.result, remainingLinks: 0 }
      : { action: 'kept', remainingLinks: outcome.remaining },
  };
}

/**
 * The CA the workload's links already use, if any (kept, public, on the workload's
 * membership items by Ensure workload role). Only the workload's own CA is reused: a CA
 * another workload's caller brought may be theirs to mint certificates with.
 */
export async function workloadCaCertificate(
  memberships: StepDeps['memberships'],
  w: WorkloadRef,
): Promise<string | undefined> {
  const members = await memberships.members(membership.workload(workloadKey(w)));
  const found = members.find((m) => typeof m.caCertificate === 'string');
  return found ? (found.caCertificate as string) : undefined;
}

/** A CA Tether made for a cluster: the certificate (kept) and the private key (shown once, never kept). */
export interface GeneratedCa {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

const DAY = 86_400_000;

/**
 * A new self-signed CA for a source cluster's cert-manager Issuer: RSA-2048 (Node's key
 * generation and signature), SHA-256, `CA:TRUE`, key usage certificate and CRL signing,
 * valid ten years. `node-forge` builds the X.509 structure (Node's crypto cannot issue).
 */
export function generateClusterCa(cluster: ClusterRef, now: Date = new Date()): GeneratedCa {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = selfSignedCa({
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    privateKey,
    subject: {
      commonName: `tether roles-anywhere ${cluster.cluster}`.slice(0, 64),
      organizationName: 'Tether',
    },
    serialNumber: positiveSerial(16),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 3650 * DAY),
  });
  return {
    certificatePem: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * The cert-manager CA Secret of a generated CA (the runbook's `iam-ra-ca`, with the key
 * cert-manager's CA Issuer signs with), as YAML for the source namespace. Returned once.
 */
export function caSecretManifest(source: WorkloadRef, ca: GeneratedCa): string {
  return new YAML.Document({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: raIssuerNames(fingerprintOf(ca.certificatePem) ?? '').secret,
      namespace: source.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'tether' },
    },
    stringData: { 'tls.crt': ca.certificatePem, 'tls.key': ca.privateKeyPem },
  }).toString({ lineWidth: 0 });
}
