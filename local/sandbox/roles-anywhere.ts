/**
 * IAM Roles Anywhere (per account and Region): trust anchors, profiles and the credential
 * exchange `CreateSession`, as the Roles Anywhere API reference and user guide describe them.
 *
 * What the sandbox holds to, each from AWS's documentation:
 * - a `CERTIFICATE_BUNDLE` trust anchor takes a CA certificate (user guide, "Trust model":
 *   the certificate must be a CA, basic constraints `CA:TRUE`); anything else is
 *   `ValidationException`;
 * - a profile lists the roles the service may assume (`roleArns`); `CreateSession` with a
 *   role it does not list, a disabled profile or a disabled anchor is `AccessDeniedException`;
 * - `CreateSession` (user guide, "Authentication" and "Trust model"): the end-entity
 *   certificate must chain to the anchor's CA and be valid now, the request is signed with
 *   its private key, and the role's trust must allow the service principal
 *   `rolesanywhere.amazonaws.com` `sts:AssumeRole`, `sts:TagSession` and
 *   `sts:SetSourceIdentity`, with the certificate's subject, issuer and SAN as principal tags
 *   (`aws:PrincipalTag/x509Subject/CN`, …), `aws:SourceArn` = the trust anchor, and the
 *   source identity = the subject's CN;
 * - tags are `{ key, value }` pairs (API reference, Tag).
 *
 * The real request signature is SigV4's X.509 variant (`AWS4-X509-RSA-SHA256`); the sandbox
 * models the proof of possession as a signature over {@link createSessionStringToSign}.
 */
import { verify, X509Certificate } from 'node:crypto';
import { evaluatePolicy, type PolicyDocument as EvalDocument } from '#link/policy/evaluate';
import { findRoleByArn } from '#local/sandbox/iam/roles';
import { type OpContext, type Operations, paginate, requireString } from './context';
import { SandboxError } from './errors';
import { issueSession } from './sts';
import { parsePolicy } from './iam/policies';
import { type RegionState, regionOf } from './state';

/** Trust anchors per account and Region (Roles Anywhere quotas: 50). */
export const TRUST_ANCHORS_PER_REGION = 50;
/** Profiles per account and Region (Roles Anywhere quotas: 250). */
export const PROFILES_PER_REGION = 250;
export const ROLES_ANYWHERE_SERVICE = 'rolesanywhere.amazonaws.com';

export interface RaTag {
  key: string;
  value: string;
}

export interface TrustAnchorState {
  trustAnchorId: string;
  trustAnchorArn: string;
  name: string;
  enabled: boolean;
  certificatePem: string;
  tags: RaTag[];
  createdAt: string;
  updatedAt: string;
}

export interface ProfileState {
  profileId: string;
  profileArn: string;
  name: string;
  enabled: boolean;
  roleArns: string[];
  durationSeconds: number;
  tags: RaTag[];
  createdAt: string;
  updatedAt: string;
}

export interface RolesAnywhereState {
  trustAnchors: Record<string, TrustAnchorState>;
  profiles: Record<string, ProfileState>;
}

/** The Roles Anywhere part of a region (absent on state files written before it). */
export function rolesAnywhereOf(region: RegionState): RolesAnywhereState {
  const r = region as RegionState & { rolesAnywhere?: RolesAnywhereState };
  r.rolesAnywhere ??= { trustAnchors: {}, profiles: {} };
  return r.rolesAnywhere;
}

function ra(ctx: OpContext): RolesAnywhereState {
  return rolesAnywhereOf(regionOf(ctx.account, ctx.region));
}

function validation(message: string): SandboxError {
  return new SandboxError('ValidationException', message, { statusCode: 400 });
}

function notFound(): SandboxError {
  // Message unconfirmed: AWS documents the exception, not its text.
  return new SandboxError('ResourceNotFoundException', 'Resource not found', { statusCode: 404 });
}

function accessDenied(message: string): SandboxError {
  return new SandboxError('AccessDeniedException', message, { statusCode: 403 });
}

function uuidOf(ctx: OpContext, kind: string): string {
  const h = ctx.newHex(kind);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function tagsOf(input: unknown): RaTag[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw validation('tags must be a list');
  return input.map((t) => {
    const { key, value } = (t ?? {}) as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || typeof value !== 'string')
      throw validation('A tag needs a key and a value');
    return { key, value };
  });
}

function anchorOut(a: TrustAnchorState) {
  return {
    trustAnchorId: a.trustAnchorId,
    trustAnchorArn: a.trustAnchorArn,
    name: a.name,
    enabled: a.enabled,
    source: { sourceType: 'CERTIFICATE_BUNDLE', sourceData: { x509CertificateData: a.certificatePem } },
    createdAt: new Date(a.createdAt),
    updatedAt: new Date(a.updatedAt),
  };
}

function profileOut(p: ProfileState) {
  return {
    profileId: p.profileId,
    profileArn: p.profileArn,
    name: p.name,
    enabled: p.enabled,
    roleArns: [...p.roleArns],
    durationSeconds: p.durationSeconds,
    createdAt: new Date(p.createdAt),
    updatedAt: new Date(p.updatedAt),
  };
}

function anchorOrThrow(ctx: OpContext, id: unknown): TrustAnchorState {
  const found = ra(ctx).trustAnchors[requireString(id, 'trustAnchorId', 'ValidationException')];
  if (!found) throw notFound();
  return found;
}

function profileOrThrow(ctx: OpContext, id: unknown): ProfileState {
  const found = ra(ctx).profiles[requireString(id, 'profileId', 'ValidationException')];
  if (!found) throw notFound();
  return found;
}

/** The CA certificate of a new anchor: one readable CA certificate. */
function caCertificate(source: unknown): string {
  const { sourceType, sourceData } = (source ?? {}) as {
    sourceType?: unknown;
    sourceData?: { x509CertificateData?: unknown };
  };
  if (sourceType !== 'CERTIFICATE_BUNDLE')
    throw validation('The sandbox serves CERTIFICATE_BUNDLE trust anchors only');
  const pem = sourceData?.x509CertificateData;
  if (typeof pem !== 'string') throw validation('x509CertificateData is required');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw validation('Invalid certificate bundle');
  }
  if (!cert.ca) throw validation('The certificate is not a CA certificate');
  return pem;
}

function roleArnsOf(input: unknown): string[] {
  if (input === undefined) return [];
  if (
    !Array.isArray(input) ||
    input.some((a) => typeof a !== 'string' || !/^arn:aws:iam::\d{12}:role\//.test(a))
  )
    throw validation('roleArns must be IAM role ARNs');
  if (input.length > 250) throw validation('A profile lists at most 250 roles');
  return [...(input as string[])];
}

function taggedResource(ctx: OpContext, arn: string): { tags: RaTag[] } {
  const state = ra(ctx);
  const found =
    Object.values(state.trustAnchors).find((a) => a.trustAnchorArn === arn) ??
    Object.values(state.profiles).find((p) => p.profileArn === arn);
  if (!found) throw notFound();
  return found;
}

/** What a `CreateSession` request signs (see the file comment): its fields, one a line. */
export function createSessionStringToSign(input: {
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly roleArn: string;
  readonly timestamp: string;
}): string {
  return ['CreateSession', input.timestamp, input.trustAnchorArn, input.profileArn, input.roleArn].join('\n');
}

/** The distinguished name of a certificate as Roles Anywhere's principal tags (`x509Subject/CN`, …). */
function nameTags(prefix: string, dn: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of dn.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[`aws:PrincipalTag/${prefix}/${line.slice(0, at)}`] = line.slice(at + 1);
  }
  return out;
}

/** How far a CreateSession timestamp may be from now (SigV4's five minutes). */
const CLOCK_SKEW_MS = 5 * 60_000;

export const rolesAnywhereOperations: Operations = {
  CreateTrustAnchor: (ctx, input) => {
    const name = requireString(input.name, 'name', 'ValidationException');
    const certificatePem = caCertificate(input.source);
    const state = ra(ctx);
    if (Object.keys(state.trustAnchors).length >= TRUST_ANCHORS_PER_REGION)
      throw new SandboxError('ServiceQuotaExceededException', 'Trust anchor quota exceeded', {
        statusCode: 402,
      });
    const id = uuidOf(ctx, 'trust-anchor');
    const now = ctx.now();
    const anchor: TrustAnchorState = {
      trustAnchorId: id,
      trustAnchorArn: `arn:aws:rolesanywhere:${ctx.region}:${ctx.account.id}:trust-anchor/${id}`,
      name,
      enabled: input.enabled !== false,
      certificatePem,
      tags: tagsOf(input.tags),
      createdAt: now,
      updatedAt: now,
    };
    state.trustAnchors[id] = anchor;
    return { trustAnchor: anchorOut(anchor) };
  },
  GetTrustAnchor: (ctx, input) => ({ trustAnchor: anchorOut(anchorOrThrow(ctx, input.trustAnchorId)) }),
  ListTrustAnchors: (ctx, input) => {
    const all = Object.values(ra(ctx).trustAnchors).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const { page, next } = paginate(all, input.nextToken, input.pageSize, 50);
    return { trustAnchors: page.map(anchorOut), ...(next ? { nextToken: next } : {}) };
  },
  DeleteTrustAnchor: (ctx, input) => {
    const anchor = anchorOrThrow(ctx, input.trustAnchorId);
    delete ra(ctx).trustAnchors[anchor.trustAnchorId];
    return { trustAnchor: anchorOut(anchor) };
  },
  CreateProfile: (ctx, input) => {
    const name = requireString(input.name, 'name', 'ValidationException');
    const state = ra(ctx);
    if (Object.keys(state.profiles).length >= PROFILES_PER_REGION)
      throw new SandboxError('ServiceQuotaExceededException', 'Profile quota exceeded', { statusCode: 402 });
    const id = uuidOf(ctx, 'profile');
    const now = ctx.now();
    const duration = input.durationSeconds === undefined ? 3600 : Number(input.durationSeconds);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200)
      throw validation('durationSeconds must be between 900 and 43200');
    const profile: ProfileState = {
      profileId: id,
      profileArn: `arn:aws:rolesanywhere:${ctx.region}:${ctx.account.id}:profile/${id}`,
      name,
      enabled: input.enabled === true,
      roleArns: roleArnsOf(input.roleArns),
      durationSeconds: duration,
      tags: tagsOf(input.tags),
      createdAt: now,
      updatedAt: now,
    };
    state.profiles[id] = profile;
    return { profile: profileOut(profile) };
  },
  GetProfile: (ctx, input) => ({ profile: profileOut(profileOrThrow(ctx, input.profileId)) }),
  ListProfiles: (ctx, input) => {
    const all = Object.values(ra(ctx).profiles).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const { page, next } = paginate(all, input.nextToken, input.pageSize, 50);
    return { profiles: page.map(profileOut), ...(next ? { nextToken: next } : {}) };
  },
  UpdateProfile: (ctx, input) => {
    const profile = profileOrThrow(ctx, input.profileId);
    if (input.roleArns !== undefined) profile.roleArns = roleArnsOf(input.roleArns);
    if (input.durationSeconds !== undefined) profile.durationSeconds = Number(input.durationSeconds);
    profile.updatedAt = ctx.now();
    return { profile: profileOut(profile) };
  },
  DeleteProfile: (ctx, input) => {
    const profile = profileOrThrow(ctx, input.profileId);
    delete ra(ctx).profiles[profile.profileId];
    return { profile: profileOut(profile) };
  },
  ListTagsForResource: (ctx, input) => ({
    tags: taggedResource(
      ctx,
      requireString(input.resourceArn, 'resourceArn', 'ValidationException'),
    ).tags.map((t) => ({ ...t })),
  }),

  /**
   * The credential exchange (no AWS credentials: the certificate is the proof). Input:
   * `trustAnchorArn`, `profileArn`, `roleArn`, `certificate` (PEM), `timestamp` (ISO),
   * `signature` (base64, over {@link createSessionStringToSign} with the certificate's key),
   * `durationSeconds`. Output as the API's `credentialSet`.
   */
  CreateSession: (ctx, input) => {
    const trustAnchorArn = requireString(input.trustAnchorArn, 'trustAnchorArn', 'ValidationException');
    const profileArn = requireString(input.profileArn, 'profileArn', 'ValidationException');
    const roleArn = requireString(input.roleArn, 'roleArn', 'ValidationException');
    const timestamp = requireString(input.timestamp, 'timestamp', 'ValidationException');
    const state = ra(ctx);
    const anchor = Object.values(state.trustAnchors).find((a) => a.trustAnchorArn === trustAnchorArn);
    if (!anchor?.enabled) throw accessDenied('Untrusted signing certificate.');
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(requireString(input.certificate, 'certificate', 'ValidationException'));
    } catch {
      throw validation('Invalid certificate');
    }
    const ca = new X509Certificate(anchor.certificatePem);
    // The chain: issued by the anchor's CA (names and signature), valid now, the CA valid too.
    if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey))
      throw accessDenied('Untrusted signing certificate.');
    const now = Date.now();
    for (const c of [leaf, ca]) {
      if (Date.parse(c.validTo) <= now || Date.parse(c.validFrom) > now)
        throw accessDenied('Certificate is expired or not yet valid.');
    }
    if (leaf.ca) throw accessDenied('A CA certificate cannot authenticate.');
    // Proof of possession of the certificate's private key.
    const signed = createSessionStringToSign({ trustAnchorArn, profileArn, roleArn, timestamp });
    const signature = Buffer.from(String(input.signature ?? ''), 'base64');
    if (
      Math.abs(Date.parse(timestamp) - now) > CLOCK_SKEW_MS ||
      !verify('sha256', Buffer.from(signed), leaf.publicKey, signature)
    )
      throw accessDenied('Signature does not match the certificate.');
    const profile = Object.values(state.profiles).find((p) => p.profileArn === profileArn);
    if (!profile?.enabled || !profile.roleArns.includes(roleArn))
      throw accessDenied('Unable to assume role for the profile.');
    const role = findRoleByArn(ctx.state, roleArn);
    if (!role) throw accessDenied('Unable to assume role for the profile.');
    const subjectTags = nameTags('x509Subject', leaf.subject);
    const cn = subjectTags['aws:PrincipalTag/x509Subject/CN'] ?? '';
    const context = {
      ...subjectTags,
      ...nameTags('x509Issuer', leaf.issuer),
      'aws:SourceArn': trustAnchorArn,
      'aws:SourceAccount': ctx.account.id,
      'sts:SourceIdentity': cn,
    };
    const trust = parsePolicy(role.AssumeRolePolicyDocument) as unknown as EvalDocument;
    for (const action of ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity']) {
      const decision = evaluatePolicy(
        trust,
        { action, principal: { type: 'Service', id: ROLES_ANYWHERE_SERVICE }, context },
        { policyType: 'resource' },
      );
      if (decision.decision !== 'Allow')
        throw accessDenied(`Unable to assume role: the trust does not allow ${action}.`);
    }
    const duration =
      input.durationSeconds === undefined ? profile.durationSeconds : Number(input.durationSeconds);
    if (!Number.isInteger(duration) || duration < 900 || duration > profile.durationSeconds)
      throw validation('durationSeconds exceeds the profile');
    const sessionName = leaf.serialNumber.toLowerCase();
    const creds = issueSession(ctx.state, role, sessionName, {
      durationSeconds: duration,
      sourceIdentity: cn,
    });
    ctx.markDirty();
    return {
      credentialSet: [
        {
          assumedRoleUser: {
            arn: `arn:aws:sts::${ctx.account.id}:assumed-role/${role.RoleName}/${sessionName}`,
            assumedRoleId: `${role.RoleId}:${sessionName}`,
          },
          credentials: {
            accessKeyId: creds.accessKeyId,
            secretAccessKey: creds.secretAccessKey,
            sessionToken: creds.sessionToken,
            expiration: creds.expiration?.toISOString(),
          },
          roleArn,
          sourceIdentity: cn,
        },
      ],
      subjectArn: `arn:aws:rolesanywhere:${ctx.region}:${ctx.account.id}:subject/${leaf.serialNumber.toLowerCase()}`,
    };
  },
};
