/**
 * STS: AssumeRole (with the target role's trust policy and the caller's identity
 * policies evaluated by Tether's own evaluator, functions/link/policy/evaluate.ts),
 * AssumeRoleWithWebIdentity (the token verified against its issuer's JWKS with `jose`) and
 * GetCallerIdentity.
 */
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { evaluatePolicies, evaluatePolicy, type PolicyDocument as EvalDocument } from '#link/policy/evaluate';
import { type Caller, type OpContext, type Operations, requireString } from './context';
import { SandboxError } from './errors';
import { awsPrincipals, type PolicyDocument, parsePolicy } from '#local/sandbox/iam/policies';
import { effectiveTrust, findRoleByArn } from '#local/sandbox/iam/roles';
import { jwksOf } from './oidc-issuers';
import { anonymousGet } from './s3';
import { base32Of, type CredentialState, type RoleState, type SandboxState, sha256Hex } from './state';

/** The control plane's own account. */
export const HUB_ACCOUNT_ID = '000000000000';
/** The hub principal: its identity policies are not checked (it may assume any agent role it is trusted by). */
export const HUB_ROLE_ARN = `arn:aws:iam::${HUB_ACCOUNT_ID}:role/tether-hub`;

const ALLOW_ALL: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

/** Static credentials, the shape SDK v3 clients accept. */
export interface SandboxCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Resolves an access key to its principal; undefined if the key is unknown. */
export function callerOf(
  state: SandboxState,
  accessKeyId: string,
): { caller: Caller; cred: CredentialState } | undefined {
  const cred = state.credentials[accessKeyId];
  if (!cred) return undefined;
  if (cred.kind === 'root') {
    const root = `arn:aws:iam::${cred.accountId}:root`;
    return {
      cred,
      caller: {
        accountId: cred.accountId,
        arn: root,
        principalArn: root,
        userId: cred.accountId,
        kind: 'root',
        chained: false,
      },
    };
  }
  const roleName = cred.roleName ?? '';
  const session = cred.sessionName ?? '';
  return {
    cred,
    caller: {
      accountId: cred.accountId,
      arn: `arn:aws:sts::${cred.accountId}:assumed-role/${roleName}/${session}`,
      principalArn: cred.roleArn ?? '',
      userId: `${cred.roleId ?? ''}:${session}`,
      kind: 'role-session',
      roleName,
      sessionName: session,
      ...(cred.sourceIdentity ? { sourceIdentity: cred.sourceIdentity } : {}),
      chained: cred.chained === true,
      ...(cred.sessionTags ? { sessionTags: cred.sessionTags } : {}),
      ...(cred.transitiveTagKeys ? { transitiveTagKeys: cred.transitiveTagKeys } : {}),
    },
  };
}

/** Issues session credentials for `role` (no checks: AssumeRole and admin helpers call it). */
export function issueSession(
  state: SandboxState,
  role: RoleState,
  sessionName: string,
  options: {
    durationSeconds?: number;
    chained?: boolean;
    expires?: boolean;
    seedKey?: string;
    sourceIdentity?: string;
    sessionTags?: Record<string, string>;
    transitiveTagKeys?: string[];
  } = {},
): SandboxCredentials {
  state.seq += 1;
  const seed = options.seedKey ?? `session:${state.seq}:${role.Arn}:${sessionName}`;
  const accessKeyId = `ASIA${base32Of(seed, 16)}`;
  const secretAccessKey = Buffer.from(sha256Hex(`secret:${seed}`), 'hex')
    .toString('base64')
    .slice(0, 40);
  const sessionToken = `FwoGZXIvYXdzE${Buffer.from(sha256Hex(`token:${seed}`) + sha256Hex(`token2:${seed}`), 'hex').toString('base64')}`;
  const expires = options.expires !== false;
  const expiration = expires ? new Date(Date.now() + (options.durationSeconds ?? 3600) * 1000) : undefined;
  const accountId = role.Arn.split(':')[4] ?? '';
  state.credentials[accessKeyId] = {
    secretAccessKey,
    sessionToken,
    accountId,
    kind: 'role-session',
    roleName: role.RoleName,
    roleArn: role.Arn,
    roleId: role.RoleId,
    sessionName,
    ...(options.sourceIdentity ? { sourceIdentity: options.sourceIdentity } : {}),
    ...(expiration ? { expiration: expiration.toISOString() } : {}),
    ...(options.chained ? { chained: true } : {}),
    ...(options.sessionTags && Object.keys(options.sessionTags).length > 0
      ? { sessionTags: { ...options.sessionTags } }
      : {}),
    ...(options.transitiveTagKeys?.length ? { transitiveTagKeys: [...options.transitiveTagKeys] } : {}),
  };
  return { accessKeyId, secretAccessKey, sessionToken, ...(expiration ? { expiration } : {}) };
}

/** The identity policies of the caller that the evaluation uses. */
function identityPolicies(ctx: OpContext): { name: string; policy: PolicyDocument }[] {
  const c = ctx.caller;
  // The account root may do anything; the hub's identity policies are not modelled.
  if (c.kind === 'root' || c.principalArn === HUB_ROLE_ARN) return [{ name: 'implicit', policy: ALLOW_ALL }];
  const role = findRoleByArn(ctx.state, c.principalArn);
  if (!role) return [];
  const out = Object.entries(role.inlinePolicies).map(([name, doc]) => ({ name, policy: parsePolicy(doc) }));
  if (role.attachedPolicyArns.includes('arn:aws:iam::aws:policy/AdministratorAccess')) {
    out.push({ name: 'AdministratorAccess', policy: ALLOW_ALL });
  }
  return out;
}

/** The trust policy without principals IAM no longer resolves (deleted or re-created roles). */
function trustForEvaluation(state: SandboxState, role: RoleState): PolicyDocument {
  const { stale } = effectiveTrust(state, role);
  const policy = parsePolicy(role.AssumeRolePolicyDocument);
  if (stale.size === 0) return policy;
  const statements = policy.Statement.flatMap((st) => {
    const aws = awsPrincipals(st);
    if (aws.length === 0) return [st];
    const keep = aws.filter((a) => !stale.has(a));
    const principal = { ...(st.Principal as Record<string, unknown>) };
    if (keep.length > 0) principal.AWS = keep;
    else delete principal.AWS;
    return Object.keys(principal).length > 0 ? [{ ...st, Principal: principal }] : [];
  });
  return { ...policy, Statement: statements };
}

function denied(ctx: OpContext, roleArn: string, detail?: string): SandboxError {
  const msg = `User: ${ctx.caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
  return new SandboxError('AccessDenied', detail ? `${msg} (sandbox: ${detail})` : msg, { statusCode: 403 });
}

/** A role's tags as the condition keys of a request on it (both spellings IAM documents for roles). */
function resourceTagContext(role: RoleState): Record<string, string> {
  return Object.fromEntries(
    role.Tags.flatMap((t) => [
      [`aws:ResourceTag/${t.Key}`, t.Value],
      [`iam:ResourceTag/${t.Key}`, t.Value],
    ]),
  );
}

/**
 * The condition keys of a request's session tags (IAM user guide, "Passing session tags in
 * AWS STS"): `aws:RequestTag/<key>` for each tag the new session gets, `aws:TagKeys` for
 * their keys, and the caller's own session tags as `aws:PrincipalTag/<key>`.
 */
function tagContext(
  caller: Caller,
  requestTags: Readonly<Record<string, string>>,
): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(caller.sessionTags ?? {})) context[`aws:PrincipalTag/${k}`] = v;
  for (const [k, v] of Object.entries(requestTags)) context[`aws:RequestTag/${k}`] = v;
  if (Object.keys(requestTags).length > 0) context['aws:TagKeys'] = Object.keys(requestTags);
  return context;
}

/**
 * Evaluates whether the caller may assume `role`. A request that sets session tags (its own
 * `Tags`, or the caller's transitive ones) is also an `sts:TagSession` request, which the
 * trust and, across accounts, the caller's identity policies must allow (IAM user guide,
 * "Passing session tags in AWS STS": "the role trust policy must allow sts:TagSession").
 */
async function mayAssume(
  ctx: OpContext,
  role: RoleState,
  externalId: string | undefined,
  sourceIdentity?: string,
  requestTags: Readonly<Record<string, string>> = {},
): Promise<{ ok: boolean; detail?: string }> {
  const context: Record<string, string | string[]> = {
    'aws:PrincipalArn': ctx.caller.principalArn,
    'aws:PrincipalAccount': ctx.caller.accountId,
    'aws:userid': ctx.caller.userId,
    ...tagContext(ctx.caller, requestTags),
  };
  if (externalId !== undefined) context['sts:ExternalId'] = externalId;
  if (sourceIdentity !== undefined) context['sts:SourceIdentity'] = sourceIdentity;
  const trust = trustForEvaluation(ctx.state, role) as unknown as EvalDocument;
  const tagging = Object.keys(requestTags).length > 0;
  if (tagging) {
    const taggable = evaluatePolicy(
      trust,
      { action: 'sts:TagSession', principal: { type: 'AWS', id: ctx.caller.arn }, context },
      { policyType: 'resource' },
    );
    if (taggable.decision === 'CannotEvaluate')
      return { ok: false, detail: `cannot evaluate: ${taggable.reason}` };
    if (taggable.decision !== 'Allow')
      return { ok: false, detail: `the trust of ${role.Arn} does not allow sts:TagSession with these tags` };
  }
  // Setting a source identity is an action of its own that the trust must allow too
  // (IAM user guide, "Monitor and control actions taken with assumed roles").
  if (sourceIdentity !== undefined) {
    const settable = evaluatePolicy(
      trust,
      { action: 'sts:SetSourceIdentity', principal: { type: 'AWS', id: ctx.caller.arn }, context },
      { policyType: 'resource' },
    );
    if (settable.decision === 'CannotEvaluate')
      return { ok: false, detail: `cannot evaluate: ${settable.reason}` };
    if (settable.decision !== 'Allow')
      return { ok: false, detail: `the trust of ${role.Arn} does not allow sts:SetSourceIdentity` };
  }
  // The caller as IAM sees it: a role session is its session ARN, which a trust naming the
  // role (or its account) covers.
  const trusted = evaluatePolicy(
    trust,
    { action: 'sts:AssumeRole', principal: { type: 'AWS', id: ctx.caller.arn }, context },
    { policyType: 'resource' },
  );
  // What the evaluator cannot judge is refused, never guessed; the reason goes in the sandbox detail.
  if (trusted.decision === 'CannotEvaluate')
    return { ok: false, detail: `cannot evaluate: ${trusted.reason}` };
  if (trusted.decision !== 'Allow') return { ok: false }; // AWS's message says no more than that
  // The caller's identity policies always count: an explicit Deny there wins even where the
  // trust alone would do (IAM policy evaluation logic). The role to assume is their resource,
  // so its tags are in the request context as `aws:ResourceTag/…` and `iam:ResourceTag/…`
  // (IAM User Guide: "IAM: Assume roles that have a specific tag", which holds across accounts).
  const identity = evaluatePolicies(
    identityPolicies(ctx).map((p) => p.policy as unknown as EvalDocument),
    { action: 'sts:AssumeRole', resource: role.Arn, context: { ...context, ...resourceTagContext(role) } },
    { policyType: 'identity' },
  );
  if (identity.decision === 'CannotEvaluate')
    return { ok: false, detail: `cannot evaluate: ${identity.reason}` };
  if (identity.decision === 'ExplicitDeny') return { ok: false };
  // A trust that names the caller itself suffices in the same account; an account principal,
  // or any cross-account call, also needs an Allow in the caller's identity policies.
  const roleAccount = role.Arn.split(':')[4] ?? '';
  const statements = Array.isArray(trust.Statement) ? trust.Statement : [trust.Statement];
  const namesCaller = statements.some(
    (st) =>
      st.Effect === 'Allow' &&
      awsPrincipals(st as never).some((p) => p === ctx.caller.principalArn || p === ctx.caller.arn),
  );
  if (roleAccount === ctx.caller.accountId && namesCaller) return { ok: true };
  if (identity.decision !== 'Allow') return { ok: false };
  if (tagging) {
    const tagAllowed = evaluatePolicies(
      identityPolicies(ctx).map((p) => p.policy as unknown as EvalDocument),
      { action: 'sts:TagSession', resource: role.Arn, context: { ...context, ...resourceTagContext(role) } },
      { policyType: 'identity' },
    );
    if (tagAllowed.decision !== 'Allow')
      return { ok: false, detail: `the caller's policies do not allow sts:TagSession on ${role.Arn}` };
  }
  return { ok: true };
}

/**
 * The session tags of an AssumeRole request: the caller's transitive tags, then the
 * request's `Tags` (a transitive tag cannot be set to another value: IAM user guide,
 * "Chaining roles with session tags"), and which of them pass on from the new session.
 */
export function requestSessionTags(
  caller: Caller,
  input: { Tags?: unknown; TransitiveTagKeys?: unknown },
): { tags: Record<string, string>; transitive: string[] } {
  const tags: Record<string, string> = {};
  const inheritedKeys = caller.transitiveTagKeys ?? [];
  for (const k of inheritedKeys) {
    const v = caller.sessionTags?.[k];
    if (v !== undefined) tags[k] = v;
  }
  const asked = Array.isArray(input.Tags) ? (input.Tags as { Key?: unknown; Value?: unknown }[]) : [];
  if (asked.length > 50) {
    throw new SandboxError('ValidationError', 'Tags: Member must have length less than or equal to 50');
  }
  for (const t of asked) {
    const key = String(t.Key ?? '');
    const value = String(t.Value ?? '');
    if (inheritedKeys.includes(key) && tags[key] !== value) {
      throw new SandboxError(
        'InvalidParameterValue',
        `The transitive session tag ${key} cannot be changed in a role chain`,
      );
    }
    tags[key] = value;
  }
  const askedTransitive = Array.isArray(input.TransitiveTagKeys) ? input.TransitiveTagKeys.map(String) : [];
  const transitive = [...new Set([...inheritedKeys, ...askedTransitive])].filter((k) => k in tags);
  return { tags, transitive };
}

/** Operations AWS serves without credentials (STS API reference: AssumeRoleWithWebIdentity). */
export const UNSIGNED_STS_OPERATIONS: ReadonlySet<string> = new Set(['AssumeRoleWithWebIdentity']);

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

function checkSessionName(sessionName: string): void {
  if (!SESSION_NAME.test(sessionName)) {
    throw new SandboxError(
      'ValidationError',
      `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
}

const invalidToken = (message: string) =>
  new SandboxError('InvalidIdentityToken', message, { statusCode: 400 });

/**
 * Verifies a web identity token as STS does for AssumeRoleWithWebIdentity (STS API
 * reference, AssumeRoleWithWebIdentity; IAM user guide, "Create an OpenID Connect (OIDC)
 * identity provider"): the issuer must be registered as an IAM OIDC provider in the role's
 * account ("No OpenIDConnect provider found in your account for …"), the signature must
 * verify against the issuer's JWKS, the token must not be expired (`ExpiredTokenException`)
 * and its audience must be one of the provider's client ids ("Incorrect token audience").
 * The sandbox holds the JWKS of the issuers it hosts (local/sandbox/oidc-issuers.ts) where
 * AWS fetches it over HTTPS; any other issuer's keys are found as STS finds them, through
 * its discovery document and `jwks_uri` read anonymously ({@link resolveIssuerJwks}: a
 * self-managed cluster's documents published to S3). An issuer with neither has no keys, so
 * its tokens fail the signature check.
 */
async function verifyWebIdentityToken(
  ctx: OpContext,
  roleAccountId: string,
  token: string,
): Promise<{ providerArn: string; hostPath: string; sub: string; aud: string }> {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw invalidToken("Couldn't parse the web identity token (sandbox: not a JWT)");
  }
  const issuer = typeof claims.iss === 'string' ? claims.iss : '';
  const hostPath = issuer.replace(/^https:\/\//, '').replace(/\/$/, '');
  const providerArn = `arn:aws:iam::${roleAccountId}:oidc-provider/${hostPath}`;
  const provider = ctx.state.accounts[roleAccountId]?.iam.oidcProviders[providerArn];
  if (!issuer || !provider)
    throw invalidToken(`No OpenIDConnect provider found in your account for ${issuer}`);
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    const hosted = jwksOf(ctx.state, issuer);
    const keys = hosted.keys.length > 0 ? hosted : (resolveIssuerJwks(ctx.state, issuer) ?? { keys: [] });
    ({ payload } = await jwtVerify(
      token,
      createLocalJWKSet(keys as Parameters<typeof createLocalJWKSet>[0]),
      {
        issuer,
        // STS API reference, AssumeRoleWithWebIdentity: "Tokens must be signed using either
        // RSA keys (RS256, RS384, or RS512) or ECDSA keys (ES256, ES384, or ES512)".
        algorithms: WEB_IDENTITY_ALGORITHMS,
        currentDate: new Date(ctx.now()),
      },
    ));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) {
      const exp = new Date(Number(claims.exp) * 1000).toISOString();
      throw new SandboxError(
        'ExpiredTokenException',
        `Token expired: current date/time ${ctx.now()} must be before the expiration date/time ${exp}`,
        { statusCode: 400 },
      );
    }
    // AWS's wording for a signature that does not verify is unconfirmed; the reason is the sandbox's.
    throw invalidToken(
      `The web identity token could not be verified (sandbox: ${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [];
  const aud = audiences.find((a) => provider.ClientIDList.includes(a));
  if (aud === undefined) throw invalidToken('Incorrect token audience');
  return { providerArn, hostPath, sub: String(payload.sub ?? ''), aud };
}

/** The signing algorithms STS takes in a web identity token (docs/aws-facts.md#web-identity-tokens). */
export const WEB_IDENTITY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

/** The STS operations the sandbox implements. */
export const stsOperations: Operations = {
  /**
   * STS API reference, AssumeRoleWithWebIdentity: no AWS credentials; the role's trust must
   * allow `sts:AssumeRoleWithWebIdentity` for the `Federated` provider, with the token's
   * claims as the condition keys `<issuer host/path>:sub` and `:aud` (IAM user guide,
   * "Available keys for AWS OIDC federation"); a refusal is AccessDenied "Not authorized to
   * perform sts:AssumeRoleWithWebIdentity".
   */
  AssumeRoleWithWebIdentity: async (ctx, input) => {
    const roleArn = requireString(input.RoleArn, 'roleArn');
    const sessionName = requireString(input.RoleSessionName, 'roleSessionName');
    const token = requireString(input.WebIdentityToken, 'webIdentityToken');
    checkSessionName(sessionName);
    const roleAccountId = roleArn.split(':')[4] ?? '';
    const verified = await verifyWebIdentityToken(ctx, roleAccountId, token);
    const notAuthorized = new SandboxError(
      'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity',
      {
        statusCode: 403,
      },
    );
    const role = findRoleByArn(ctx.state, roleArn);
    if (!role) throw notAuthorized;
    const decision = evaluatePolicy(
      trustForEvaluation(ctx.state, role) as unknown as EvalDocument,
      {
        action: 'sts:AssumeRoleWithWebIdentity',
        principal: { type: 'Federated', id: verified.providerArn },
        context: {
          [`${verified.hostPath}:sub`]: verified.sub,
          [`${verified.hostPath}:aud`]: verified.aud,
          'aws:FederatedProvider': verified.providerArn,
        },
      },
      { policyType: 'resource' },
    );
    if (decision.decision !== 'Allow') throw notAuthorized;
    const duration = input.DurationSeconds === undefined ? 3600 : Number(input.DurationSeconds);
    if (!Number.isInteger(duration) || duration < 900 || duration > role.MaxSessionDuration) {
      throw new SandboxError(
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }
    const creds = issueSession(ctx.state, role, sessionName, { durationSeconds: duration });
    ctx.markDirty();
    return {
      Credentials: {
        AccessKeyId: creds.accessKeyId,
        SecretAccessKey: creds.secretAccessKey,
        SessionToken: creds.sessionToken,
        Expiration: creds.expiration,
      },
      SubjectFromWebIdentityToken: verified.sub,
      AssumedRoleUser: {
        AssumedRoleId: `${role.RoleId}:${sessionName}`,
        Arn: `arn:aws:sts::${roleAccountId}:assumed-role/${role.RoleName}/${sessionName}`,
      },
      Provider: verified.providerArn,
      Audience: verified.aud,
    };
  },

  AssumeRole: async (ctx, input) => {
    const roleArn = requireString(input.RoleArn, 'roleArn');
    const sessionName = requireString(input.RoleSessionName, 'roleSessionName');
    checkSessionName(sessionName);
    const role = findRoleByArn(ctx.state, roleArn);
    // A missing role is indistinguishable from a refused one (STS answers AccessDenied).
    if (!role) throw denied(ctx, roleArn);
    const duration = input.DurationSeconds === undefined ? 3600 : Number(input.DurationSeconds);
    if (ctx.caller.kind === 'role-session' && duration > 3600) {
      throw new SandboxError(
        'ValidationError',
        'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
      );
    }
    if (!Number.isInteger(duration) || duration < 900 || duration > role.MaxSessionDuration) {
      throw new SandboxError(
        'ValidationError',
        `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`,
      );
    }
    const asked = input.SourceIdentity === undefined ? undefined : String(input.SourceIdentity);
    if (
      asked !== undefined &&
      (!/^[\w+=,.@-]{2,64}$/.test(asked) || asked.toLowerCase().startsWith('aws:'))
    ) {
      throw new SandboxError(
        'ValidationError',
        `1 validation error detected: Value '${asked}' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    // A source identity, once set, stays for the whole role chain and cannot be changed.
    const inherited = ctx.caller.sourceIdentity;
    if (inherited !== undefined && asked !== undefined && asked !== inherited) {
      throw denied(ctx, roleArn, `the caller's source identity ${inherited} cannot be changed to ${asked}`);
    }
    const sourceIdentity = asked ?? inherited;
    const session = requestSessionTags(ctx.caller, input);
    const verdict = await mayAssume(
      ctx,
      role,
      typeof input.ExternalId === 'string' ? input.ExternalId : undefined,
      // An inherited source identity is set on the new session too: the trust must allow it.
      sourceIdentity,
      session.tags,
    );
    if (!verdict.ok) throw denied(ctx, roleArn, verdict.detail);
    const creds = issueSession(ctx.state, role, sessionName, {
      durationSeconds: duration,
      chained: ctx.caller.kind === 'role-session',
      ...(sourceIdentity ? { sourceIdentity } : {}),
      sessionTags: session.tags,
      transitiveTagKeys: session.transitive,
    });
    ctx.markDirty();
    const accountId = role.Arn.split(':')[4] ?? '';
    return {
      Credentials: {
        AccessKeyId: creds.accessKeyId,
        SecretAccessKey: creds.secretAccessKey,
        SessionToken: creds.sessionToken,
        Expiration: creds.expiration,
      },
      AssumedRoleUser: {
        AssumedRoleId: `${role.RoleId}:${sessionName}`,
        Arn: `arn:aws:sts::${accountId}:assumed-role/${role.RoleName}/${sessionName}`,
      },
      ...(sourceIdentity ? { SourceIdentity: sourceIdentity } : {}),
    };
  },

  GetCallerIdentity: (ctx) => ({
    UserId: ctx.caller.userId,
    Account: ctx.caller.accountId,
    Arn: ctx.caller.arn,
  }),
};

/**
 * The JSON Web Key Set a verifier of `issuer`'s tokens uses, as STS finds it: the issuer's
 * `/.well-known/openid-configuration`, read anonymously, whose `issuer` must be the issuer
 * itself, then its `jwks_uri`, read anonymously. For a self-managed issuer published to S3
 * this is the published JWKS: the one source of truth. Undefined when either document cannot
 * be read or does not match.
 */
export function resolveIssuerJwks(state: SandboxState, issuer: string): { keys: unknown[] } | undefined {
  const base = issuer.replace(/\/$/, '');
  const discovery = anonymousGet(state, `${base}/.well-known/openid-configuration`);
  if (discovery.status !== 200 || discovery.body === undefined) return undefined;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    doc = JSON.parse(discovery.body) as typeof doc;
  } catch {
    return undefined;
  }
  if (doc.issuer !== base || typeof doc.jwks_uri !== 'string') return undefined;
  const jwks = anonymousGet(state, doc.jwks_uri);
  if (jwks.status !== 200 || jwks.body === undefined) return undefined;
  try {
    const parsed = JSON.parse(jwks.body) as { keys?: unknown };
    return Array.isArray(parsed.keys) ? { keys: parsed.keys } : undefined;
  } catch {
    return undefined;
  }
}
