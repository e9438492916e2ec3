/**
 * The API's operations, as plain functions of a validated request (the router has already
 * checked it against `api/openapi.yaml`). They read and write the table and start
 * workflows; they never call member accounts except the read-only plan checks.
 */
import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { isAwsError } from '#aws/errors';
import type { TetherRuntime } from '#functions/runtime';
import { type Caller, linkSessionName } from '#link/caller';
import { pemFingerprint } from '#link/certificates';
import { canonicalJson } from '#link/canonical-json';
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import { assertRequestAllowed } from '#link/guardrails';
import { DELETABLE, isDeleted, RECONCILABLE, SERVES_KUBECONFIG } from '#link/lifecycle';
import type { IdentityMode, Link, LinkStatus, LinkVerification, OnboardingRequest } from '#link/model';
import { clusterKey, linkNaturalKey, onboardExecutionName } from '#link/names';
import {
  assertApplicable,
  failedChecks,
  type Plan,
  planRequest,
  plannedResources,
  specConflict,
  specsOf,
  type TargetPlan,
} from '#resources/plan';
import { renderManifests } from '#resources/manifests';
import { caSecretManifest, generateClusterCa, workloadCaCertificate } from '#resources/roles-anywhere';
import { selfManagedHops, verifyChain } from '#resources/verify';
import type { LinkFilters, Reservation } from '#store/links';
import { offboardInput, onboardInput, reconcileInput } from '#link/workflow-input';
import type { Admission, DeniedTarget, PlanAdmission } from './access';
import { decodeCursor, encodeCursor, invalidCursor } from './cursor';
import { ApiError } from './problems';

export interface ApiResult {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Raw text body (kubeconfig). */
  readonly text?: string;
}

const linkHref = (id: string) => `/links/${id}`;

/** A link as the API shows it. */
export function presentLink(link: Link) {
  return {
    ...link,
    links: {
      self: linkHref(link.id),
      kubeconfig: `${linkHref(link.id)}/kubeconfig`,
      manifests: `${linkHref(link.id)}/manifests`,
      runs: `${linkHref(link.id)}/runs`,
    },
  };
}

function summary(link: Link) {
  return { id: link.id, status: link.status, target: link.spec.target, href: linkHref(link.id) };
}

/** The identity modes built so far; the others answer IDENTITY_MODE_UNSUPPORTED. */
export const BUILT_MODES: ReadonlySet<IdentityMode> = new Set<IdentityMode>([
  'irsa',
  'pod-identity',
  'principal',
  'roles-anywhere',
]);

/**
 * What the schema cannot say, checked before anything is read or made: the rules of
 * `#link/guardrails` (the schema states them too; a Region of another partition is
 * PARTITION_UNSUPPORTED), the identity modes built so far, one link per target cluster.
 */
function assertSupported(request: OnboardingRequest): void {
  assertRequestAllowed(request);
  if (!BUILT_MODES.has(request.identity.mode)) {
    throw new ApiError(
      'IDENTITY_MODE_UNSUPPORTED',
      `Identity mode "${request.identity.mode}" is not available yet; use ${[...BUILT_MODES].map((m) => `"${m}"`).join(' or ')}`,
    );
  }
  const seen = new Set<string>();
  request.targets.forEach((t, i) => {
    const key = clusterKey(t);
    if (seen.has(key)) {
      throw new ApiError('VALIDATION_FAILED', `targets/${i} names cluster ${key} twice in one request`, {
        errors: [{ path: `/targets/${i}`, message: `duplicate target ${key}` }],
      });
    }
    seen.add(key);
  });
}

/**
 * `POST /plans`: what `POST /links` would do, changing nothing. With the caller's
 * {@link Admission}, each target says whether it would wait for an approver.
 */
export async function createPlan(
  rt: TetherRuntime,
  request: OnboardingRequest,
  admission?: PlanAdmission,
): Promise<ApiResult> {
  assertSupported(request);
  // Targets the caller may not link are not read: they appear as denied, with the reason.
  const denied = admission?.denied ?? new Map<string, DeniedTarget>();
  const allowed = request.targets.filter(
    (t) => !denied.has(linkNaturalKey({ source: request.source, target: t })),
  );
  const plan = await planRequest(rt, { ...request, targets: allowed });
  const body = presentPlan(plan, admission);
  for (const [i, spec] of specsOf(request).entries()) {
    const refusal = denied.get(linkNaturalKey(spec));
    if (!refusal) continue;
    body.targets.splice(i, 0, {
      target: spec.target,
      existingLink: null,
      approval: 'none',
      authorization: { decision: 'denied', detail: refusal.detail, policies: refusal.policies },
      action: 'none',
      resources: plannedResources(spec),
      checks: [],
    });
  }
  return { statusCode: 200, body };
}

/** A plan as the API shows it (`POST /plans`, and the `plan` of a QUOTA_EXCEEDED problem). */
export function presentPlan(plan: Plan, admission?: Admission) {
  return {
    checks: plan.checks,
    targets: plan.targets.map((t): Record<string, unknown> => {
      const waits = admission?.awaitingApproval.has(linkNaturalKey(t.spec)) === true;
      return {
        target: t.spec.target,
        existingLink: t.existing ? { id: t.existing.id, status: t.existing.status } : null,
        approval: waits ? 'required' : 'none',
        authorization: {
          decision: waits ? 'needs-approval' : 'allowed',
          detail: waits
            ? 'the policies allow this link once an approver approves it: it would wait in AWAITING_APPROVAL'
            : 'the policies allow this link',
        },
        action: t.action,
        resources: plannedResources(t.spec),
        checks: t.checks ?? [],
      };
    }),
  };
}

/**
 * Refuses a plan whose quota or conflict checks fail, with the plan in the problem: 409
 * CONFLICT_UNMANAGED_RESOURCE for an access entry someone else made, else 422 QUOTA_EXCEEDED.
 */
function assertChecksHold(plan: Plan, admission?: Admission): void {
  const failed = failedChecks(plan);
  if (!failed.length) return;
  const conflict = failed.every((f) => f.check.check === 'access-entry-conflict');
  throw new ApiError(
    conflict ? 'CONFLICT_UNMANAGED_RESOURCE' : 'QUOTA_EXCEEDED',
    failed.map((f) => `${clusterKey(f.target.spec.target)}: ${f.check.check}: ${f.check.detail}`).join('; '),
    { extensions: { plan: presentPlan(plan, admission) } },
  );
}

/** Whether the execution that last drove the link is still running (its compensation, say). */
async function stillRunning(rt: TetherRuntime, link: Link): Promise<boolean> {
  if (!link.lastExecution) return false;
  const out = await rt.clients
    .sfn()
    .send(new DescribeExecutionCommand({ executionArn: link.lastExecution.arn }));
  return out.status === 'RUNNING';
}

/** Starts the onboard workflow for the given links, in an execution of this name. */
async function startOnboard(rt: TetherRuntime, name: string, requestId: string, linkIds: readonly string[]) {
  await rt.clients.sfn().send(
    new StartExecutionCommand({
      stateMachineArn: rt.stateMachines.onboard,
      name,
      input: onboardInput(requestId, linkIds),
    }),
  );
}

/**
 * Makes sure the run of a PENDING link exists: the execution named after the link and its
 * version ({@link onboardExecutionName}), whose input is derived from the link alone. Step
 * Functions answers a second start of that name and input with the running execution, so
 * every request that finds the link PENDING may call this, and one run starts. If the run of
 * that version already stopped without taking the link (aborted, say), the link is queued
 * again at the next version (one conditional write: one winner) and that run is started.
 * A link that is no longer PENDING has been taken by its run: nothing to do.
 * Resolves to the name of the execution started or joined (undefined when the link had
 * already been taken), which `POST /links` returns so a client can follow that very run.
 */
export async function ensureOnboardRun(rt: TetherRuntime, link: Link): Promise<string | undefined> {
  let current: Link | undefined = link;
  for (let attempt = 0; attempt < 5 && current?.status === 'PENDING'; attempt++) {
    const name = onboardExecutionName(current);
    try {
      await startOnboard(rt, name, current.requestId, [current.id]);
      return name; // started now, or already running
    } catch (err) {
      if ((err as Error).name !== 'ExecutionAlreadyExists') throw err;
    }
    // The run of this version exists and has stopped.
    const now: Link | undefined = await rt.links.find(current.id);
    if (now?.status !== 'PENDING') return undefined;
    current =
      now.version === current.version
        ? ((await rt.links.requeue(now, rt.now().toISOString())) ?? (await rt.links.find(now.id)))
        : now;
  }
  if (current?.status === 'PENDING') {
    throw new ConcurrentUpdateError(`Link ${current.id} kept changing while its run was started`);
  }
  return undefined;
}

/**
 * The id of an onboarding request. With an Idempotency-Key it is derived from the key and
 * the body, so a retry of the same request (after a crash, say) has the same id: it finds
 * the links the first attempt made as its own and completes what is missing. Without one it
 * is new. Both look like `req_` + 26 characters of Crockford base 32.
 */
export function requestIdFor(idempotencyKey: string | undefined, bodyHash: string): string {
  if (idempotencyKey === undefined) return `req_${ulid()}`;
  const digest = createHash('sha256').update(`${idempotencyKey}\u0000${bodyHash}`).digest();
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let id = '';
  for (let i = 0; i < 26; i++) id += alphabet[(digest[i] ?? 0) % 32];
  return `req_${id}`;
}

/**
 * `POST /links`. `admission` (`#api/access`) says who asks and which targets wait for an
 * approver; `idempotencyKey` is already scoped to the caller.
 */
export async function createLinks(
  rt: TetherRuntime,
  request: OnboardingRequest,
  idempotencyKey: string | undefined,
  admission?: Admission,
): Promise<ApiResult> {
  assertSupported(request);
  const bodyHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
  if (idempotencyKey) {
    const state = await rt.idempotency.begin(idempotencyKey, bodyHash, rt.now().getTime());
    if (state.state === 'reused') {
      throw new ApiError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request body',
      );
    }
    if (state.state === 'in-flight') {
      throw new ApiError(
        'IDEMPOTENCY_KEY_IN_FLIGHT',
        'A request with this Idempotency-Key is still being processed; retry later',
      );
    }
    if (state.state === 'done') return state.response as ApiResult;
  }
  try {
    const { request: complete, caSecret } = await withClusterCa(rt, request);
    const plan = await planRequest(rt, complete);
    assertApplicable(plan);
    assertChecksHold(plan, admission);
    const response = await applyPlan(rt, plan, requestIdFor(idempotencyKey, bodyHash), admission);
    // Kept for a replay without the CA's private key: it is shown once, never stored.
    if (idempotencyKey) await rt.idempotency.complete(idempotencyKey, response);
    return caSecret ? { ...response, body: { ...(response.body as object), caSecret } } : response;
  } catch (err) {
    // Nothing was promised for this key: let the caller retry with it.
    if (idempotencyKey) await rt.idempotency.abandon(idempotencyKey).catch(() => undefined);
    throw err;
  }
}

/**
 * Mode `roles-anywhere` without a CA certificate: the one the workload's links already use,
 * or a new CA, whose cert-manager Secret (with the private key) the caller gets once. Never
 * another workload's CA: whoever brought it may hold its key and mint any workload's
 * certificate. Other requests go as they are.
 */
async function withClusterCa(
  rt: TetherRuntime,
  request: OnboardingRequest,
): Promise<{ request: OnboardingRequest; caSecret?: string }> {
  if (request.identity.mode !== 'roles-anywhere') return { request };
  const existing = await workloadCaCertificate(rt.memberships, request.source);
  if (request.identity.caCertificate !== undefined) {
    if (existing && pemFingerprint(existing) !== pemFingerprint(request.identity.caCertificate)) {
      throw new ApiError(
        'LINK_SPEC_MISMATCH',
        "The workload's links use another CA certificate: one workload has one role, trusting one CA; give that CA, or none",
      );
    }
    return { request };
  }
  const complete = (caCertificate: string): OnboardingRequest => ({
    ...request,
    identity: { ...request.identity, caCertificate },
  });
  if (existing) return { request: complete(existing) };
  const ca = generateClusterCa(request.source, rt.now());
  return { request: complete(ca.certificatePem), caSecret: caSecretManifest(request.source, ca) };
}

/** How long a request waits for other requests that are making links it asks for. */
export const CLAIM_WAIT_MS = 10_000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Claims every target of the request: a reservation of its workload → target, or the live
 * link that holds it. Targets are claimed in natural-key order, so two requests never wait
 * for each other in a cycle. All or nothing: an existing link with another spec, or a target
 * another request is still making after {@link CLAIM_WAIT_MS}, releases every reservation
 * made here and throws.
 */
async function claimTargets(
  rt: TetherRuntime,
  plan: Plan,
  requestId: string,
  admission?: Admission,
): Promise<({ reservation: Reservation } | { link: Link })[]> {
  const claims: ({ reservation: Reservation } | { link: Link })[] = [];
  const reserved: Reservation[] = [];
  const order = plan.targets
    .map((t, i) => ({ i, key: linkNaturalKey(t.spec) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const deadline = Date.now() + CLAIM_WAIT_MS;
  try {
    for (const { i } of order) {
      const { spec } = plan.targets[i] as TargetPlan;
      for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
        const claim = await rt.links.reserve(`lnk_${ulid()}`, requestId, spec, rt.now(), {
          ...(admission ? { createdBy: admission.caller } : {}),
          awaitingApproval: admission?.awaitingApproval.has(linkNaturalKey(spec)) === true,
        });
        if (claim.kind === 'reserved') {
          reserved.push(claim.reservation);
          claims[i] = { reservation: claim.reservation };
          break;
        }
        if (claim.kind === 'existing') {
          const conflict = specConflict(claim.link, spec);
          if (conflict) throw conflict; // another request made it first, with another spec
          claims[i] = { link: claim.link };
          break;
        }
        if (Date.now() > deadline) {
          throw new ApiError(
            'LINK_BUSY',
            `Another request is making the link of this workload to ${clusterKey(spec.target)}; retry shortly`,
          );
        }
        await pause(wait / 2 + Math.random() * wait); // jittered, growing
      }
    }
  } catch (err) {
    await Promise.all(reserved.map((r) => rt.links.release(r).catch(() => undefined)));
    throw err;
  }
  return claims;
}

/**
 * Applies a plan that holds: claims every target (see {@link claimTargets}), makes the link
 * of each reservation, then makes sure each PENDING link has its one run and re-drives each
 * FAILED one whose last run has stopped. A link this request made (now, or in an earlier
 * attempt with the same Idempotency-Key) is `created`. A new link the admission marks for
 * approval is made AWAITING_APPROVAL and not driven: nothing is made for it until an
 * approver approves (`#api/approval`).
 */
async function applyPlan(
  rt: TetherRuntime,
  plan: Plan,
  requestId: string,
  admission?: Admission,
): Promise<ApiResult> {
  const claims = await claimTargets(rt, plan, requestId, admission);
  const results: { link: Link; created: boolean; redriven: boolean; execution?: string | undefined }[] = [];
  for (const claim of claims) {
    const link = 'reservation' in claim ? await rt.links.commit(claim.reservation) : claim.link;
    results.push({ link, created: link.requestId === requestId, redriven: false });
  }
  for (const r of results) {
    if (r.link.status === 'PENDING') {
      r.execution = await ensureOnboardRun(rt, r.link);
    } else if (r.link.status === 'FAILED' && !(await stillRunning(rt, r.link))) {
      // Of concurrent requests, the one whose conditional write wins re-drives it; the others join its run.
      const queued = await rt.links.requeue(r.link, rt.now().toISOString());
      const link = queued ?? (await rt.links.get(r.link.id));
      r.execution = await ensureOnboardRun(rt, link);
      r.link = link;
      r.redriven = queued !== undefined;
    }
  }
  const driven = results.some((r) => r.created || r.redriven);
  if (driven) {
    await rt.links.putRequest(
      requestId,
      results.map((r) => r.link.id),
      rt.now().toISOString(),
    );
  }
  const first = results.find((r) => r.created) ?? results[0];
  // One target: the link itself; several: the list of this request's links.
  const location =
    results.length > 1 && driven
      ? `/links?requestId=${requestId}`
      : first
        ? linkHref(first.link.id)
        : undefined;
  return {
    statusCode: driven ? 202 : 200,
    headers: location ? { location } : {},
    body: {
      requestId: driven ? requestId : null,
      links: results.map((r) => ({
        ...summary(r.link),
        created: r.created,
        redriven: r.redriven,
        ...(r.execution ? { execution: r.execution } : {}),
      })),
    },
  };
}

export async function getLink(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  return { statusCode: 200, body: presentLink(link) };
}

/**
 * `GET /links`: a page of the links the caller may read (`canRead`), filled from as many
 * pages of the table as it takes.
 */
export async function listLinks(
  rt: TetherRuntime,
  query: Record<string, string>,
  canRead: (link: Link) => boolean = () => true,
): Promise<ApiResult> {
  const filters: LinkFilters = {
    ...(query.status ? { status: query.status as LinkStatus } : {}),
    ...(query.requestId ? { requestId: query.requestId } : {}),
    ...(query.sourceAccountId ? { sourceAccountId: query.sourceAccountId } : {}),
    ...(query.sourceCluster ? { sourceCluster: query.sourceCluster } : {}),
    ...(query.namespace ? { namespace: query.namespace } : {}),
    ...(query.serviceAccount ? { serviceAccount: query.serviceAccount } : {}),
    ...(query.targetAccountId ? { targetAccountId: query.targetAccountId } : {}),
    ...(query.targetCluster ? { targetCluster: query.targetCluster } : {}),
  };
  const limit = Number(query.limit ?? 25);
  const cursor = decodeCursor(query.cursor);
  let page: Awaited<ReturnType<typeof rt.links.list>>;
  try {
    page = await rt.links.list(filters, limit, cursor);
  } catch (err) {
    // A well-formed cursor the table still refuses (e.g. outside the query's range).
    if (cursor && isAwsError(err, 'ValidationException')) {
      throw invalidCursor();
    }
    throw err;
  }
  // Each read asks for no more than the page lacks, so the cursor never skips a readable link.
  const items = page.items.filter(canRead);
  while (page.next && items.length < limit) {
    page = await rt.links.list(filters, limit - items.length, page.next);
    items.push(...page.items.filter(canRead));
  }
  return {
    statusCode: 200,
    body: {
      items: items.map(presentLink),
      ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}),
    },
  };
}

export async function getKubeconfig(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  const kubeconfig = link.outputs.kubeconfig;
  if (!SERVES_KUBECONFIG.has(link.status) || typeof kubeconfig !== 'string') {
    throw new ApiError(
      'LINK_NOT_READY',
      `Link ${id} is ${link.status}; its kubeconfig is served once it is ACTIVE`,
    );
  }
  return {
    statusCode: 200,
    headers: {
      'content-type': 'application/yaml',
      'content-disposition': `attachment; filename="${link.spec.target.cluster}.kubeconfig"`,
    },
    text: kubeconfig,
  };
}

/**
 * `GET /links/{id}/manifests`: the Kubernetes YAML the user applies in the source cluster
 * (`#resources/manifests`), served once the link is ACTIVE, like its kubeconfig.
 */
export async function getManifests(
  rt: TetherRuntime,
  id: string,
  query: Readonly<Record<string, unknown>> = {},
): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  const kubeconfig = link.outputs.kubeconfig;
  if (!SERVES_KUBECONFIG.has(link.status) || typeof kubeconfig !== 'string') {
    throw new ApiError(
      'LINK_NOT_READY',
      `Link ${id} is ${link.status}; its manifests are served once it is ACTIVE`,
    );
  }
  const text = (key: string) => (typeof query[key] === 'string' ? (query[key] as string) : undefined);
  const deployment = text('deployment');
  const container = text('container');
  return {
    statusCode: 200,
    headers: {
      'content-type': 'application/yaml',
      'content-disposition': `attachment; filename="${link.spec.target.cluster}.manifests.yaml"`,
    },
    text: renderManifests(link, kubeconfig, {
      ...(deployment ? { deployment } : {}),
      ...(container ? { container } : {}),
    }),
  };
}

/** One event of a run as `GET /links/{id}/runs` shows it: when, which state, what happened. */
export interface RunEvent {
  readonly timestamp: string;
  /** The state (a runbook step's name), when the event belongs to one. */
  readonly step?: string;
  /** AWS's event type (`TaskStateEntered`, `TaskFailed`, …), or `TaskRetried` for a new attempt. */
  readonly type: string;
  /** The error and cause of a failure, or which attempt a retry is. */
  readonly detail?: string;
}

/**
 * A run's history, readable: the states entered and exited with their timestamps, each failed
 * attempt with its error and cause, each retry (a state scheduled again after it failed), and
 * how the execution ended. Each event is attributed to its state by following
 * `previousEventId` back to the state's entered event, as the Step Functions console does.
 */
export function runEvents(history: readonly HistoryEvent[]): RunEvent[] {
  const byId = new Map(history.map((e) => [e.id, e]));
  const stateOf = (e: HistoryEvent): string | undefined => {
    for (let at: HistoryEvent | undefined = e, hops = 0; at && hops < 1000; hops++) {
      const name = at.stateEnteredEventDetails?.name ?? at.stateExitedEventDetails?.name;
      if (name) return name;
      at = at.previousEventId ? byId.get(at.previousEventId) : undefined;
    }
    return undefined;
  };
  const failedBefore = new Map<string, number>();
  const events: RunEvent[] = [];
  for (const e of history) {
    const type = e.type ?? '';
    const timestamp = (e.timestamp ?? new Date(0)).toISOString();
    // An execution's own events belong to no state.
    const step = type.startsWith('Execution') ? undefined : stateOf(e);
    const at = { timestamp, ...(step ? { step } : {}) };
    const failure = e.taskFailedEventDetails ?? e.executionFailedEventDetails;
    if (type.endsWith('StateEntered') || type.endsWith('StateExited') || type === 'ExecutionSucceeded') {
      events.push({ ...at, type });
    } else if (type === 'ExecutionStarted' || type === 'ExecutionAborted' || type === 'ExecutionTimedOut') {
      events.push({ ...at, type });
    } else if (type === 'TaskFailed' || type === 'ExecutionFailed' || type === 'TaskTimedOut') {
      if (step) failedBefore.set(step, (failedBefore.get(step) ?? 0) + 1);
      events.push({ ...at, type, detail: `${failure?.error ?? 'error'}: ${failure?.cause ?? ''}`.trim() });
    } else if (type === 'TaskScheduled' && step && failedBefore.has(step)) {
      events.push({ ...at, type: 'TaskRetried', detail: `attempt ${(failedBefore.get(step) ?? 0) + 1}` });
    }
  }
  return events;
}

/** Every event of an execution (GetExecutionHistory, all pages). */
async function executionHistory(rt: TetherRuntime, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await rt.clients.sfn().send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

export async function listRuns(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  const recorded =
    link.runs ?? (link.lastExecution ? [{ ...link.lastExecution, startedAt: link.updatedAt }] : []);
  // Newest first; the status comes from Step Functions, which keeps the history.
  const items = await Promise.all(
    [...recorded].reverse().map(async (run) => {
      const out = await rt.clients.sfn().send(new DescribeExecutionCommand({ executionArn: run.arn }));
      return {
        executionArn: run.arn,
        name: run.name,
        workflow: run.workflow,
        status: out.status,
        startedAt: out.startDate?.toISOString() ?? run.startedAt,
        ...(out.stopDate ? { stoppedAt: out.stopDate.toISOString() } : {}),
        ...('requestedBy' in run && run.requestedBy ? { requestedBy: run.requestedBy } : {}),
        sessionName: linkSessionName(link.id, run.name),
        events: runEvents(await executionHistory(rt, run.arn)),
      };
    }),
  );
  return { statusCode: 200, body: { items, ...(link.approvals ? { approvals: link.approvals } : {}) } };
}

/**
 * `POST /links/{id}/verify`: the chain of the link evaluated now against what is in place in
 * both accounts (`#resources/verify`, read-only), stored on the link as `verification`. The
 * runtime given is the caller's API session, so every read in the accounts names the caller.
 */
export async function verifyLink(rt: TetherRuntime, id: string, caller?: Caller): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link || isDeleted(link.status)) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  if (!link.outputs.resolved) {
    throw new ApiError(
      'LINK_NOT_READY',
      `Link ${id} is ${link.status} and has not resolved its clusters yet: there is no chain to verify`,
    );
  }
  const hops = [...(await selfManagedHops(link, rt)), ...(await verifyChain(link, rt.clients))];
  const verification: LinkVerification = {
    at: rt.now().toISOString(),
    ok: hops.every((h) => h.ok),
    hops: hops.map((h) => ({ hop: h.hop, ok: h.ok, detail: h.detail })),
    ...(caller ? { by: caller.arn } : {}),
  };
  let recorded: Link;
  try {
    recorded = await rt.links.recordVerification(id, verification);
  } catch (err) {
    if (err instanceof ConcurrentUpdateError)
      throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
    throw err;
  }
  return { statusCode: 200, body: { id, status: recorded.status, verification } };
}

/**
 * `DELETE /links/{id}`: DELETING now (a conditional write, recording who asked), then the
 * offboard workflow.
 */
export async function deleteLink(rt: TetherRuntime, id: string, caller?: Caller): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link || isDeleted(link.status)) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  if (!DELETABLE.has(link.status)) {
    throw new ApiError('LINK_BUSY', `Link ${id} is ${link.status}; delete it once it is ACTIVE or FAILED`);
  }
  if (!rt.stateMachines.offboard) throw new Error('No offboard state machine is configured');
  let deleting: Link;
  try {
    deleting = await rt.links.transition(id, 'DELETING', rt.now().toISOString(), {
      ...(caller ? { requestedBy: caller } : {}),
    });
  } catch (err) {
    if (err instanceof LinkStateError) throw new ApiError('LINK_BUSY', err.message);
    throw err;
  }
  await rt.clients.sfn().send(
    new StartExecutionCommand({
      stateMachineArn: rt.stateMachines.offboard,
      name: `offboard-${id}-v${deleting.version}`,
      input: offboardInput(id),
    }),
  );
  return {
    statusCode: 202,
    headers: { location: linkHref(id) },
    body: { ...summary(deleting) },
  };
}

/**
 * `POST /links/{id}/reconcile`. An ACTIVE or DEGRADED link: the reconcile workflow, which
 * runs the ensures again (they read what is in the accounts and change only the difference:
 * new NAT IPs added where they take effect, stale ones removed, a drifted policy rewritten)
 * and ends ACTIVE, or DEGRADED with a stable code; nothing is undone. A FAILED link is
 * re-driven exactly as `POST /links` re-drives it (the next version, the run named
 * `onboard-<id>-v<version>`), so the two never start two runs of one link.
 */
export async function reconcileLink(rt: TetherRuntime, id: string, caller?: Caller): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link || isDeleted(link.status)) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  if (!RECONCILABLE.has(link.status)) {
    throw new ApiError(
      'LINK_BUSY',
      `Link ${id} is ${link.status}; reconcile it once it is ACTIVE, DEGRADED or FAILED`,
    );
  }
  if (link.status === 'FAILED') {
    if (await stillRunning(rt, link)) {
      throw new ApiError('LINK_BUSY', `Link ${id} is FAILED and its last run is still going`);
    }
    const queued = (await rt.links.requeue(link, rt.now().toISOString())) ?? (await rt.links.get(id));
    await ensureOnboardRun(rt, queued);
    return {
      statusCode: 202,
      headers: { location: linkHref(id) },
      body: { ...summary(queued), execution: onboardExecutionName(queued) },
    };
  }
  if (!rt.stateMachines.reconcile) throw new Error('No reconcile state machine is configured');
  const name = `reconcile-${id}-v${link.version}`;
  try {
    // Who asks is the run's source identity; of two callers at one version, one gets LINK_BUSY.
    if (caller) await rt.links.recordRequester(id, link.version, caller, rt.now().toISOString());
    await rt.clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: rt.stateMachines.reconcile,
        name,
        input: reconcileInput([id], { reason: 'api', time: rt.now().toISOString() }),
      }),
    );
  } catch (err) {
    if ((err as Error).name === 'ExecutionAlreadyExists' || err instanceof ConcurrentUpdateError) {
      throw new ApiError(
        'LINK_BUSY',
        `A reconcile of link ${id} at version ${link.version} was already started`,
      );
    }
    throw err;
  }
  return {
    statusCode: 202,
    headers: { location: linkHref(id) },
    body: { ...summary(link), execution: name },
  };
}
