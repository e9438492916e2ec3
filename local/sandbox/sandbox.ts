/**
 * An in-memory (optionally persistent) sandbox of AWS accounts — IAM, STS, EKS, EC2, S3
 * and a tiny Kubernetes ConfigMap API — that plugs in under the real SDK v3 clients
 * (see `local/adapters/sdk-plugin.ts`). It behaves like AWS where Tether depends on it
 * (docs/architecture.md#runtimes, docs/aws-facts.md): error codes, quotas, IAM eventual consistency, and
 * it is the fault-injection rig of the tests.
 *
 * This file is the `Sandbox` class: it routes each call to its service's operations,
 * authenticates the caller, serialises the calls, keeps the call log, injects faults and
 * saves the state. The services live beside it, one file or folder per family.
 *
 * @example
 * const sb = Sandbox.open({ dataDir: '.tether/sandbox' });
 * const iam = new IAMClient({ region: 'us-east-1', credentials: sb.hubCredentials() });
 * iam.middlewareStack.use(sandboxPlugin(sb, 'iam', iam.config)); // #local/adapters/sdk-plugin
 */
import type { Caller, OpContext, Operations } from './context';
import { nextHex } from './context';
import { ec2Operations } from '#local/sandbox/ec2/index';
import { eksOperations } from './eks';
import { eksAuthOperations } from './eks-auth';
import { podIdentityOperations } from './eks-pod-identity';
import { SandboxError } from './errors';
import { findRoleByArn, iamOperations } from '#local/sandbox/iam/index';
import { kubernetesOperations } from './kubernetes';
import { rolesAnywhereOperations } from './roles-anywhere';
import { anonymousGet, s3Operations } from './s3';
import { appliedKey, QUOTA_CATALOG, serviceQuotasOperations } from './service-quotas';
import {
  clusterIssuers,
  mintServiceAccountToken,
  newIssuerKey,
  type ServiceAccountTokenSpec,
} from './oidc-issuers';
import {
  type AccountState,
  type ClusterState,
  copyState,
  type CredentialState,
  emptyState,
  type IssuerKeyState,
  loadState,
  type PublicAccessBlockState,
  type SandboxState,
  saveState,
} from './state';
import {
  callerOf,
  issueSession,
  resolveIssuerJwks,
  type SandboxCredentials,
  stsOperations,
  UNSIGNED_STS_OPERATIONS,
} from './sts';
import {
  addAccount,
  addEksCluster,
  type EksClusterIds,
  type EksClusterSpec,
  hubCredentials,
  rootCredentials,
  seedWorld,
  upgradeWorld,
} from './world';

/** The services the sandbox serves. */
export type ServiceName =
  | 'iam'
  | 'sts'
  | 'eks'
  | 'ec2'
  | 's3'
  | 'servicequotas'
  | 'kubernetes'
  | 'rolesanywhere';

/** Options of {@link Sandbox.open}. */
export interface SandboxOptions {
  /** Directory of `sandbox.json`; without it the sandbox lives in memory only. */
  readonly dataDir?: string;
  /** The world to seed when there is no saved state. @default 'demo' */
  readonly world?: 'demo' | 'empty';
  /**
   * IAM eventual consistency (docs/aws-facts.md#iam): for a role created within the last
   * `10 × n` calls, the first `n` CreateAccessEntry calls naming it fail
   * (`InvalidParameterException` "…invalid principal"), then the first `n`
   * AssociateAccessPolicy calls (`ResourceNotFoundException`), and the first `n` trust
   * policies naming it (`MalformedPolicyDocument` "Invalid principal in policy"). Each
   * kind counts apart, so every retry path is exercised. @default 0
   */
  readonly propagationDelayCalls?: number;
  /**
   * IAM read-after-write lag (docs/aws-facts.md#iam-eventual-consistency): for a role
   * created within the last `10 × n` calls, the first `n` calls that name it by name
   * (GetRole, PutRolePolicy, GetRolePolicy, UpdateAssumeRolePolicy, TagRole, DeleteRole, …)
   * answer `NoSuchEntity`, as IAM's read path may right after CreateRole. @default 0
   */
  readonly readAfterWriteLagCalls?: number;
}

/** Who calls and where. */
export interface CallContext {
  readonly accessKeyId: string;
  readonly region: string;
  /**
   * Checks the request's proof of the credentials (a SigV4 signature) once the access key
   * is known to belong to a principal; throws a {@link SandboxError} to refuse the call.
   * The HTTP door (local/adapters/aws-http/) passes it; the SDK plugin has no signature to check.
   */
  readonly authenticate?: (credentials: CredentialState) => void | Promise<void>;
  /** How the call came in: through the SDK plugin (in-process) or the HTTP door. @default 'sdk' */
  readonly door?: 'sdk' | 'http';
}

/** One entry of the call log. */
export interface CallRecord {
  /** 1-based position in this sandbox's log. */
  readonly seq: number;
  /** The caller's account ('' when the credentials were not recognised). */
  readonly accountId: string;
  readonly region: string;
  readonly service: ServiceName;
  readonly operation: string;
  readonly mutating: boolean;
  readonly ok: boolean;
  readonly errorCode?: string;
  /** The caller's role session name (absent for root and unknown credentials): what CloudTrail shows. */
  readonly sessionName?: string;
  /** The caller's `SourceIdentity`, when its session has one. */
  readonly sourceIdentity?: string;
  /** The caller's `aws:PrincipalArn` ('' when the credentials were not recognised). */
  readonly principalArn: string;
  /** The request as the SDK sent it (a copy). */
  readonly input: Readonly<Record<string, unknown>>;
  /** Present when the call came through the HTTP door. */
  readonly door?: 'http';
}

/** A fault to inject with {@link Sandbox.injectFault}. */
export interface FaultSpec {
  readonly service: ServiceName;
  readonly operation: string;
  /** Only calls made in this account. @default any */
  readonly accountId?: string;
  /** The AWS error code to fail with (e.g. 'Throttling', 'RequestLimitExceeded', 'ThrottlingException'). */
  readonly code: string;
  readonly message?: string;
  /** HTTP status for codes the SDK does not model. @default per code (throttling: 400/503), else 400 */
  readonly statusCode?: number;
  /** How many matching calls fail. @default 1 */
  readonly times?: number;
  /**
   * `before`: the call does nothing and fails. `after`: the change is applied and saved,
   * then the call fails (a timeout after the server did the work). @default 'before'
   */
  readonly when?: 'before' | 'after';
}

/** Deeply read-only view of a value. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

const OPERATIONS: Readonly<Record<ServiceName, Operations>> = {
  iam: iamOperations,
  sts: stsOperations,
  eks: { ...eksOperations, ...podIdentityOperations, ...eksAuthOperations },
  ec2: ec2Operations,
  s3: s3Operations,
  servicequotas: serviceQuotasOperations,
  kubernetes: kubernetesOperations,
  rolesanywhere: rolesAnywhereOperations,
};

/** Operation names that change state (AssumeRole, Get*, List*, Describe*, Head* do not). */
const MUTATING =
  /^(Create|Put|Delete|Update|Tag|Untag|Attach|Detach|Authorize|Revoke|Associate|Disassociate|Modify|Replace|Add|Remove|Allocate|Release|Set|Upload|Enable|Disable)/;

/** True if `operation` changes state. */
export function isMutatingOperation(operation: string): boolean {
  return MUTATING.test(operation);
}

/** The error each service answers to unknown or expired credentials. */
const AUTH_ERRORS: Record<
  ServiceName,
  { unknown: [string, number, string]; expired: [string, number, string] }
> = {
  iam: {
    unknown: ['InvalidClientTokenId', 403, 'The security token included in the request is invalid.'],
    expired: ['ExpiredToken', 403, 'The security token included in the request is expired'],
  },
  sts: {
    unknown: ['InvalidClientTokenId', 403, 'The security token included in the request is invalid.'],
    expired: ['ExpiredToken', 403, 'The security token included in the request is expired'],
  },
  eks: {
    unknown: ['UnrecognizedClientException', 403, 'The security token included in the request is invalid.'],
    expired: ['ExpiredTokenException', 403, 'The security token included in the request is expired'],
  },
  ec2: {
    unknown: ['AuthFailure', 401, 'AWS was not able to validate the provided access credentials'],
    expired: ['RequestExpired', 400, 'Request has expired.'],
  },
  s3: {
    unknown: ['InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist in our records.'],
    expired: ['ExpiredToken', 400, 'The provided token has expired.'],
  },
  servicequotas: {
    unknown: ['UnrecognizedClientException', 400, 'The security token included in the request is invalid.'],
    expired: ['ExpiredTokenException', 400, 'The security token included in the request is expired'],
  },
  kubernetes: {
    unknown: ['Unauthorized', 401, 'Unauthorized'],
    expired: ['Unauthorized', 401, 'Unauthorized'],
  },
  rolesanywhere: {
    unknown: ['UnrecognizedClientException', 403, 'The security token included in the request is invalid.'],
    expired: ['ExpiredTokenException', 403, 'The security token included in the request is expired'],
  },
};

/**
 * Status and message AWS uses for the codes a fault names, when the fault gives none (a
 * code the SDK models takes the status of its model). The throttling codes are those the
 * SDK itself classifies as throttling (`@smithy/core/retry`, THROTTLING_ERROR_CODES); the
 * IAM messages are the IAM API reference's descriptions of the errors.
 */
const FAULT_DEFAULTS: Record<string, { statusCode: number; message: string }> = {
  Throttling: { statusCode: 400, message: 'Rate exceeded' },
  ThrottlingException: { statusCode: 429, message: 'Rate exceeded' },
  ThrottledException: { statusCode: 429, message: 'Rate exceeded' },
  RequestThrottledException: { statusCode: 400, message: 'Rate exceeded' },
  RequestThrottled: { statusCode: 400, message: 'Rate exceeded' },
  TooManyRequestsException: { statusCode: 429, message: 'Too Many Requests' },
  RequestLimitExceeded: { statusCode: 503, message: 'Request limit exceeded.' },
  EC2ThrottledException: { statusCode: 503, message: 'Request limit exceeded.' },
  PriorRequestNotComplete: {
    statusCode: 400,
    message: 'The request was rejected because AWS is still processing a prior request.',
  },
  SlowDown: { statusCode: 503, message: 'Please reduce your request rate.' },
  ServiceFailure: { statusCode: 500, message: 'Service failure' },
  InternalError: { statusCode: 500, message: 'An internal error has occurred' },
  ServiceUnavailableException: { statusCode: 503, message: 'Service unavailable' },
  ConcurrentModification: {
    statusCode: 409,
    message:
      'The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.',
  },
  EntityTemporarilyUnmodifiable: {
    statusCode: 409,
    message:
      'The request was rejected because it referenced an entity that is temporarily unmodifiable, such as a user name that was deleted and then recreated. The error indicates that the request is likely to succeed if you try again after waiting several minutes.',
  },
  AccessDenied: { statusCode: 403, message: 'User is not authorized to perform this action' },
  UnauthorizedOperation: { statusCode: 403, message: 'You are not authorized to perform this operation.' },
  Forbidden: { statusCode: 403, message: 'Forbidden' },
  Unauthorized: { statusCode: 401, message: 'Unauthorized' },
};

/** A bulk of calls ({@link Sandbox.bulk}): the state when it began, and the error that failed it. */
interface Bulk {
  readonly before: SandboxState;
  failed: unknown;
}

interface ActiveFault {
  spec: FaultSpec;
  remaining: number;
}

/**
 * The copy a mutating call works on, so a call that fails changes nothing. A call changes
 * only its caller's account, and there only its service's part: IAM the account's roles and
 * providers, EKS, EC2 and the Kubernetes API the one region, S3 the buckets (other
 * accounts and parts are read, never written). So only that part is copied and the rest is
 * shared, which keeps a call's cost independent of how many accounts, regions and clusters
 * the sandbox holds.
 */
function draftOf(state: SandboxState, service: ServiceName, accountId: string, region: string): SandboxState {
  const account = state.accounts[accountId];
  if (!account) return copyState(state);
  let draft: AccountState;
  if (service === 'iam') draft = { ...account, iam: copyState(account.iam) };
  else if (service === 's3') draft = { ...account, s3: copyState(account.s3) };
  else if (
    service === 'eks' ||
    service === 'ec2' ||
    service === 'kubernetes' ||
    service === 'rolesanywhere'
  ) {
    const current = account.regions[region];
    draft = {
      ...account,
      regions: { ...account.regions, ...(current ? { [region]: copyState(current) } : {}) },
    };
  } else draft = copyState(account);
  return { ...state, accounts: { ...state.accounts, [accountId]: draft } };
}

/** A copy of a request for the log (a shallow one when it holds what cannot be cloned, like a stream). */
function copyOf(input: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(input);
  } catch {
    return { ...input };
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The sandbox of AWS accounts. Calls are served one at a time (in arrival order), like a
 * single AWS endpoint per account would linearise them.
 */
export class Sandbox {
  /** Called after {@link addEksCluster} added a cluster (the Kubernetes API door serves it). */
  onClusterAdded?: (cluster: EksClusterIds) => void;
  /** Called right after each mutating call that changed state (also with an `after` fault), once it is saved. */
  onMutatingCall?: (n: number, call: CallRecord) => void;
  /**
   * What CloudTrail records: every successful mutating call, with its answer, after it is
   * saved (`local/sandbox/cloudtrail.ts` turns it into the EventBridge event AWS delivers).
   * Listeners are called in order; one that throws does not stop the call.
   */
  readonly trail: ((call: CallRecord, result: Readonly<Record<string, unknown>>) => void)[] = [];
  /**
   * Called before each authenticated call runs, with the state it will see (read it, never
   * change it): what a test needs to know of the resources a call touches, such as their
   * tags, as IAM would see them when it authorizes the call.
   */
  beforeCall?: (call: CallRecord, state: DeepReadonly<SandboxState>) => void;

  readonly dataDir: string | undefined;
  readonly propagationDelayCalls: number;
  readonly readAfterWriteLagCalls: number;
  #state: SandboxState;
  #calls: CallRecord[] = [];
  #faults: ActiveFault[] = [];
  #mutations = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /** The bulk under way ({@link bulk}), if any. */
  #bulk: Bulk | undefined;
  /** Uses of not-yet-propagated roles, by role id and use (kept outside the state: failed calls count too). */
  #propagation = new Map<string, number>();

  private constructor(state: SandboxState, options: SandboxOptions) {
    this.#state = state;
    this.dataDir = options.dataDir;
    this.propagationDelayCalls = Math.max(0, options.propagationDelayCalls ?? 0);
    this.readAfterWriteLagCalls = Math.max(0, options.readAfterWriteLagCalls ?? 0);
  }

  /**
   * Loads `<dataDir>/sandbox.json` if present, else seeds the world (and saves it when a
   * `dataDir` is given).
   */
  static open(options: SandboxOptions = {}): Sandbox {
    const loaded = options.dataDir ? loadState(options.dataDir) : undefined;
    const state = loaded ?? emptyState();
    if (!loaded) seedWorld(state, options.world ?? 'demo');
    const sb = new Sandbox(state, options);
    if (!loaded || upgradeWorld(state)) sb.#save();
    return sb;
  }

  /**
   * Serves one call. `input` and the result use the SDK v3 shapes of the operation.
   * Throws {@link SandboxError} with the AWS error code.
   */
  invoke(
    service: ServiceName,
    operation: string,
    input: Record<string, unknown> | undefined,
    ctx: CallContext,
  ): Promise<Record<string, unknown>> {
    const bulk = this.#bulk;
    const run = this.#queue.then(() => this.#invoke(service, operation, input ?? {}, ctx, bulk));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #invoke(
    service: ServiceName,
    operation: string,
    input: Record<string, unknown>,
    call: CallContext,
    bulk: Bulk | undefined,
  ): Promise<Record<string, unknown>> {
    const mutating = isMutatingOperation(operation);
    const record: { -readonly [K in keyof CallRecord]: CallRecord[K] } = {
      seq: this.#calls.length + 1,
      accountId: '',
      region: call.region,
      service,
      operation,
      mutating,
      ok: false,
      principalArn: '',
      input: copyOf(input),
      ...(call.door === 'http' ? { door: 'http' as const } : {}),
    };
    this.#calls.push(record);
    this.#state.clock += 1;
    const clock = this.#state.clock;
    let changed = false;
    try {
      const handler = OPERATIONS[service]?.[operation];
      if (!handler) {
        throw new SandboxError(
          'UnsupportedOperation',
          `The sandbox does not implement ${service}:${operation}`,
        );
      }
      const caller = await this.#authenticate(service, operation, input, call);
      record.accountId = caller.accountId;
      if (caller.sessionName !== undefined) record.sessionName = caller.sessionName;
      if (caller.sourceIdentity !== undefined) record.sourceIdentity = caller.sourceIdentity;
      record.principalArn = caller.principalArn;
      this.beforeCall?.({ ...record }, this.#state as DeepReadonly<SandboxState>);
      if (mutating && bulk?.failed) throw bulk.failed;
      const fault = this.#takeFault(service, operation, caller.accountId);
      if (fault && fault.when !== 'after') throw this.#faultError(fault);

      // In a bulk, a mutating call changes the state in place: the bulk's one copy stands for
      // the per-call draft, and a call that fails takes the bulk back to it (see `bulk`).
      const inPlace = mutating && bulk !== undefined;
      const target =
        mutating && !inPlace ? draftOf(this.#state, service, caller.accountId, call.region) : this.#state;
      let dirty = false;
      const ctx = this.#context(target, caller, call.region, clock, () => {
        dirty = true;
      });
      let result: Record<string, unknown>;
      try {
        result = await handler(ctx, input);
      } catch (err) {
        if (inPlace && bulk) {
          bulk.failed = err;
          this.#state = { ...bulk.before, clock: this.#state.clock };
          this.#save();
        }
        throw err;
      }
      if (mutating) {
        this.#state = target;
        changed = true;
      }
      if (mutating || dirty) this.#save();
      if (fault) throw this.#faultError(fault);
      record.ok = true;
      if (mutating) {
        for (const listener of this.trail) {
          try {
            listener({ ...record }, result);
          } catch {
            // A listener's failure is its own: the call succeeded.
          }
        }
      }
      return result;
    } catch (err) {
      record.ok = false;
      record.errorCode = err instanceof SandboxError ? err.code : 'InternalError';
      throw err;
    } finally {
      if (changed) {
        this.#mutations += 1;
        this.onMutatingCall?.(this.#mutations, { ...record });
      }
    }
  }

  /**
   * Who makes the call: the principal behind the access key, once the request proves it holds
   * the key (`call.authenticate`) and the session has not expired; or nobody, for the
   * operations AWS serves without credentials (AssumeRoleWithWebIdentity), which are
   * accounted to the account of the role they name.
   */
  async #authenticate(
    service: ServiceName,
    operation: string,
    input: Record<string, unknown>,
    call: CallContext,
  ): Promise<Caller> {
    // Roles Anywhere's CreateSession is signed with the certificate's key, not an access key
    // (local/sandbox/roles-anywhere.ts): accounted to the trust anchor's account.
    const unsignedRolesAnywhere = service === 'rolesanywhere' && operation === 'CreateSession';
    if ((service === 'sts' && UNSIGNED_STS_OPERATIONS.has(operation)) || unsignedRolesAnywhere) {
      const accountId =
        String(unsignedRolesAnywhere ? input.trustAnchorArn : (input.RoleArn ?? '')).split(':')[4] ?? '';
      if (!this.#state.accounts[accountId])
        throw new SandboxError('AccessDenied', `Not authorized to perform sts:${operation}`, {
          statusCode: 403,
        });
      return {
        accountId,
        arn: 'anonymous',
        principalArn: '',
        userId: 'anonymous',
        kind: 'anonymous',
        chained: false,
      };
    }
    const resolved = callerOf(this.#state, call.accessKeyId);
    const auth = AUTH_ERRORS[service];
    if (!resolved) throw new SandboxError(auth.unknown[0], auth.unknown[2], { statusCode: auth.unknown[1] });
    await call.authenticate?.(resolved.cred);
    if (resolved.cred.expiration && Date.parse(resolved.cred.expiration) <= Date.now()) {
      throw new SandboxError(auth.expired[0], auth.expired[2], { statusCode: auth.expired[1] });
    }
    return resolved.caller;
  }

  #context(
    state: SandboxState,
    caller: Caller,
    region: string,
    clock: number,
    markDirty: () => void,
  ): OpContext {
    const account = state.accounts[caller.accountId];
    if (!account)
      throw new SandboxError('InvalidClientTokenId', `The account ${caller.accountId} does not exist`, {
        statusCode: 403,
      });
    return {
      state,
      account,
      caller,
      region,
      clock,
      notYetPropagated: (role, use) => {
        const n = use === 'read' ? this.readAfterWriteLagCalls : this.propagationDelayCalls;
        if (n <= 0 || clock - role.createdAtCall > n * 10) return false;
        const key = `${role.RoleId}|${use}`;
        const used = this.#propagation.get(key) ?? 0;
        if (used >= n) return false;
        this.#propagation.set(key, used + 1);
        return true;
      },
      newHex: (kind) => nextHex(state, kind),
      now: () => new Date().toISOString(),
      markDirty,
    };
  }

  #takeFault(service: ServiceName, operation: string, accountId: string): FaultSpec | undefined {
    const hit = this.#faults.find(
      (f) =>
        f.remaining > 0 &&
        f.spec.service === service &&
        f.spec.operation === operation &&
        (f.spec.accountId ?? accountId) === accountId,
    );
    if (!hit) return undefined;
    hit.remaining -= 1;
    this.#faults = this.#faults.filter((f) => f.remaining > 0);
    return hit.spec;
  }

  #faultError(spec: FaultSpec): SandboxError {
    const d = FAULT_DEFAULTS[spec.code];
    return new SandboxError(spec.code, spec.message ?? d?.message ?? `Injected fault ${spec.code}`, {
      statusCode: spec.statusCode ?? d?.statusCode ?? 400,
    });
  }

  #save(): void {
    if (this.dataDir) saveState(this.dataDir, this.#state);
  }

  /**
   * Runs `calls` (a test's arrange step: thousands of resources made by hand through the
   * SDK) with the state copied once for all of them instead of once per mutating call, which
   * makes N calls on a part of the state that grows with them cost O(N) rather than O(N²).
   * Each call is served as always (same checks, errors, quotas, call log and trail), and the
   * whole bulk is atomic in place of each call: a mutating call whose operation fails in it
   * (a fault or refused credentials change nothing, and do not count) puts the state back to what it was when the bulk began (the calls before it are undone too, though
   * the log and the trail keep them), every later mutating call of the bulk is refused with
   * the same error, and `bulk` rejects with it. Calls made while `calls` runs count as its
   * own, whoever makes them: not for a workflow under test.
   *
   * @example
   * await sb.bulk(() => Promise.all(names.map((n) => iam.send(new CreateRoleCommand({ RoleName: n, … })))));
   */
  async bulk<T>(calls: () => Promise<T>): Promise<T> {
    if (this.#bulk) throw new Error('A bulk is already under way in this sandbox');
    const bulk: Bulk = { before: copyState(this.#state), failed: undefined };
    this.#bulk = bulk;
    let value: T;
    try {
      value = await calls();
    } finally {
      this.#bulk = undefined;
      // Calls of the bulk still queued run after it: each holds its bulk, so they are refused too.
      await this.#queue;
    }
    if (bulk.failed) throw bulk.failed;
    return value;
  }

  // ---- identities -------------------------------------------------------------------

  /** Static credentials of the hub principal `arn:aws:iam::000000000000:role/tether-hub`. */
  hubCredentials(): SandboxCredentials {
    const before = Object.keys(this.#state.credentials).length;
    const creds = hubCredentials(this.#state);
    if (Object.keys(this.#state.credentials).length !== before) this.#save();
    return creds;
  }

  /** Static credentials of an account's root user (full power in that account; for tests and seeding). */
  rootCredentials(accountId: string): SandboxCredentials {
    const creds = rootCredentials(this.#state, accountId);
    this.#save();
    return creds;
  }

  /**
   * Credentials of a session of `roleArn`, made without any trust check: stands in for
   * what AWS would hand out through a path a test does not play out (a Lambda's execution
   * role; IRSA's AssumeRoleWithWebIdentity in the in-process tests, which take the workload
   * role's session from here — the real path, a token minted by the cluster's issuer and
   * verified by `AssumeRoleWithWebIdentity`, is {@link mintServiceAccountToken} + STS).
   */
  /**
   * An anonymous HTTPS GET of an S3 object URL, as IAM and STS fetch a self-managed issuer's
   * discovery documents: allowed only by a public bucket policy that Block Public Access lets
   * through (`s3.ts`). Not a call: no credentials, nothing logged.
   */
  anonymousGet(url: string): { status: number; contentType?: string; body?: string } {
    return anonymousGet(this.#state, url);
  }

  /** The JWKS STS would verify `issuer`'s tokens with (`sts.ts`, {@link resolveIssuerJwks}). */
  issuerJwks(issuer: string): { keys: unknown[] } | undefined {
    return resolveIssuerJwks(this.#state, issuer);
  }

  sessionCredentials(roleArn: string, sessionName = 'sandbox-session'): SandboxCredentials {
    const role = findRoleByArn(this.#state, roleArn);
    if (!role) throw new Error(`No role ${roleArn} in the sandbox`);
    const creds = issueSession(this.#state, role, sessionName);
    this.#save();
    return creds;
  }

  // ---- call log and faults ----------------------------------------------------------

  /** Every call since the sandbox was opened (or since {@link resetCalls}). */
  calls(): readonly CallRecord[] {
    return this.#calls.map((c) => ({ ...c }));
  }

  /** How many calls match the filter. */
  callCounts(
    filter: {
      accountId?: string;
      mutating?: boolean;
      service?: ServiceName;
      operation?: string;
      ok?: boolean;
    } = {},
  ): number {
    return this.#calls.filter(
      (c) =>
        (filter.accountId === undefined || c.accountId === filter.accountId) &&
        (filter.mutating === undefined || c.mutating === filter.mutating) &&
        (filter.service === undefined || c.service === filter.service) &&
        (filter.operation === undefined || c.operation === filter.operation) &&
        (filter.ok === undefined || c.ok === filter.ok),
    ).length;
  }

  /** Empties the call log. */
  resetCalls(): void {
    this.#calls = [];
  }

  /** Makes the next `times` matching calls fail with `code`. */
  injectFault(spec: FaultSpec): void {
    this.#faults.push({ spec, remaining: spec.times ?? 1 });
  }

  /** Removes every pending fault. */
  clearFaults(): void {
    this.#faults = [];
  }

  // ---- admin (not counted as calls) -------------------------------------------------

  /** Adds an account with its agent role (no-op if it exists). */
  addAccount(id: string): void {
    addAccount(this.#state, id);
    this.#save();
  }

  /**
   * Sets the applied value of a Service Quotas quota in an account (an approved increase, or
   * `undefined` to go back to the AWS default): what GetServiceQuota answers and what the
   * sandbox's services enforce. `region` is ignored for a global (IAM) quota.
   */
  setServiceQuota(
    accountId: string,
    region: string,
    serviceCode: string,
    quotaCode: string,
    value: number | undefined,
  ): void {
    const account = this.#state.accounts[accountId];
    if (!account) throw new Error(`No account ${accountId} in the sandbox`);
    const def = QUOTA_CATALOG.find((q) => q.serviceCode === serviceCode && q.quotaCode === quotaCode);
    if (!def) throw new Error(`The sandbox has no quota ${serviceCode}/${quotaCode}`);
    const quotas = { ...(account.serviceQuotas ?? {}) };
    if (value === undefined) delete quotas[appliedKey(def, region)];
    else quotas[appliedKey(def, region)] = value;
    account.serviceQuotas = quotas;
    this.#save();
  }

  /** Adds an EKS cluster with its VPC, subnets, cluster security group, NAT gateways and EIPs. */
  addEksCluster(spec: EksClusterSpec): EksClusterIds {
    const ids = addEksCluster(this.#state, spec);
    this.#save();
    this.onClusterAdded?.(ids);
    return ids;
  }

  /**
   * Puts a bucket in place as a deployment (CloudFormation) would: in `accountId`, with its
   * Block Public Access settings and bucket policy, its objects kept if it exists. The local
   * runtime seeds the hub's OIDC bucket this way, as the world seeds the hub's role.
   */
  addBucket(spec: {
    readonly accountId: string;
    readonly name: string;
    readonly region: string;
    readonly publicAccessBlock: PublicAccessBlockState;
    readonly policy?: string;
  }): void {
    const account = this.#state.accounts[spec.accountId];
    if (!account) throw new Error(`No account ${spec.accountId} in the sandbox`);
    for (const other of Object.values(this.#state.accounts)) {
      if (other.id !== spec.accountId && other.s3.buckets[spec.name])
        throw new Error(`Bucket ${spec.name} belongs to account ${other.id}`);
    }
    const existing = account.s3.buckets[spec.name];
    account.s3.buckets[spec.name] = {
      Name: spec.name,
      Region: spec.region,
      CreationDate: existing?.CreationDate ?? new Date().toISOString(),
      Tags: existing?.Tags ?? null,
      objects: existing?.objects ?? {},
      PublicAccessBlock: { ...spec.publicAccessBlock },
      ...(spec.policy === undefined ? {} : { Policy: spec.policy }),
    };
    this.#save();
  }

  // ---- issuers and cluster endpoints (the doors of local/adapters/) ---------------------

  /**
   * Makes a signing key for every EKS cluster's OIDC issuer that has none yet (and saves),
   * so the issuers can serve their JWKS and tokens can be minted from the data directory.
   */
  async ensureIssuerKeys(): Promise<void> {
    const missing = clusterIssuers(this.#state).filter((issuer) => !this.#state.issuerKeys?.[issuer]);
    if (missing.length === 0) return;
    const keys = await Promise.all(
      missing.map(async (issuer) => [issuer, await newIssuerKey(issuer)] as const),
    );
    this.#state.issuerKeys = { ...(this.#state.issuerKeys ?? {}), ...Object.fromEntries(keys) };
    this.#save();
  }

  /** The signing key of `issuer`, if the sandbox hosts it. */
  issuerKey(issuer: string): IssuerKeyState | undefined {
    return this.#state.issuerKeys?.[issuer];
  }

  /**
   * A projected service-account token from `spec.issuer`, as the kubelet mounts it for IRSA
   * (local/sandbox/oidc-issuers.ts). Makes the issuer's key first if needed.
   */
  async mintServiceAccountToken(spec: ServiceAccountTokenSpec): Promise<string> {
    if (!this.#state.issuerKeys?.[spec.issuer]) {
      if (!clusterIssuers(this.#state).includes(spec.issuer))
        throw new Error(`The sandbox hosts no OIDC issuer ${spec.issuer}`);
      await this.ensureIssuerKeys();
    }
    const key = this.#state.issuerKeys?.[spec.issuer];
    if (!key) throw new Error(`No signing key for ${spec.issuer}`);
    return mintServiceAccountToken(key, spec);
  }

  /**
   * Changes a cluster the way its operator's infrastructure would (not an API call, not
   * logged): the local runtime's Kubernetes API door sets the endpoint and CA it serves.
   */
  updateCluster(
    accountId: string,
    region: string,
    name: string,
    change: (cluster: ClusterState) => void,
  ): void {
    const cluster = this.#state.accounts[accountId]?.regions[region]?.eks.clusters[name];
    if (!cluster) throw new Error(`No cluster ${accountId}/${region}/${name} in the sandbox`);
    change(cluster);
    this.#save();
  }

  /** Reads the live state without copying it (never change it): for the doors' per-request reads. */
  peek<T>(read: (state: DeepReadonly<SandboxState>) => T): T {
    return read(this.#state as DeepReadonly<SandboxState>);
  }

  /** A deep, frozen snapshot of the whole state, for assertions. */
  state(): DeepReadonly<SandboxState> {
    return deepFreeze(copyState(this.#state));
  }
}
