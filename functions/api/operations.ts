/**
 * The API's operations, as plain functions of a validated request (the router has already
 * checked it against `api/openapi.yaml`). They read and write the table and start
 * workflows; they never call member accounts except the read-only plan checks.
 */
import { createHash } from 'node:crypto';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { isAwsError } from '#aws/errors';
import type { TetherRuntime } from '#functions/runtime';
import { type Caller, linkSessionName } from '#link/caller';
import { canonicalJson } from '#link/canonical-json';
import { ConcurrentUpdateError, LinkStateError } from '#link/errors';
import { DELETABLE, isDeleted, RECONCILABLE, REDRIVABLE, SERVES_KUBECONFIG } from '#link/lifecycle';
import type { Link, LinkStatus, OnboardingRequest } from '#link/model';
import { clusterKey, linkNaturalKey } from '#link/names';
import { offboardInput, onboardInput } from '#link/workflow-input';
import { assertApplicable, type Plan, planRequest, plannedResources } from '#resources/plan';
import type { LinkFilters } from '#store/links';
import type { Admission } from './access';
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
      runs: `${linkHref(link.id)}/runs`,
    },
  };
}

function summary(link: Link) {
  return { id: link.id, status: link.status, target: link.spec.target, href: linkHref(link.id) };
}

function assertSupported(request: OnboardingRequest): void {
  if (request.identity.mode !== 'irsa') {
    throw new ApiError(
      'IDENTITY_MODE_UNSUPPORTED',
      `Identity mode "${request.identity.mode}" is not available yet; use "irsa"`,
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
  admission?: Admission,
): Promise<ApiResult> {
  assertSupported(request);
  const plan = await planRequest(rt, request);
  return {
    statusCode: 200,
    body: {
      checks: plan.checks,
      targets: plan.targets.map((t) => ({
        target: t.spec.target,
        existingLink: t.existing ? { id: t.existing.id, status: t.existing.status } : null,
        approval: admission?.awaitingApproval.has(linkNaturalKey(t.spec)) ? 'required' : 'none',
        action: t.action,
        resources: plannedResources(t.spec),
      })),
    },
  };
}

/** Whether the execution that last drove the link is still running (its compensation, say). */
async function stillRunning(rt: TetherRuntime, link: Link): Promise<boolean> {
  if (!link.lastExecution) return false;
  const out = await rt.clients
    .sfn()
    .send(new DescribeExecutionCommand({ executionArn: link.lastExecution.arn }));
  return out.status === 'RUNNING';
}

async function startOnboard(rt: TetherRuntime, requestId: string, linkIds: readonly string[]) {
  await rt.clients.sfn().send(
    new StartExecutionCommand({
      stateMachineArn: rt.stateMachines.onboard,
      name: requestId,
      input: onboardInput(requestId, linkIds),
    }),
  );
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
    const plan = await planRequest(rt, request);
    assertApplicable(plan);
    const response = await applyPlan(rt, plan, admission);
    if (idempotencyKey) await rt.idempotency.complete(idempotencyKey, response);
    return response;
  } catch (err) {
    // Nothing was promised for this key: let the caller retry with it.
    if (idempotencyKey) await rt.idempotency.abandon(idempotencyKey).catch(() => undefined);
    throw err;
  }
}

/**
 * Applies a plan that holds: one PENDING link per target (or the existing one), then one
 * onboard execution for the links to drive. A link whose last run is still going is not
 * driven again. A new link the admission marks for approval is written AWAITING_APPROVAL and
 * not driven: nothing is made for it until an approver approves.
 */
async function applyPlan(rt: TetherRuntime, plan: Plan, admission?: Admission): Promise<ApiResult> {
  const requestId = `req_${ulid()}`;
  const now = rt.now().toISOString();
  const results = [];
  for (const { spec } of plan.targets) {
    results.push(
      await rt.links.createOrGet(`lnk_${ulid()}`, requestId, spec, now, {
        ...(admission ? { createdBy: admission.caller } : {}),
        awaitingApproval: admission?.awaitingApproval.has(linkNaturalKey(spec)) === true,
      }),
    );
  }
  const toDrive: string[] = [];
  for (const r of results) {
    if (r.link.status === 'AWAITING_APPROVAL') continue;
    if (r.created || (REDRIVABLE.has(r.link.status) && !(await stillRunning(rt, r.link))))
      toDrive.push(r.link.id);
  }
  const accepted = toDrive.length > 0 || results.some((r) => r.created);
  if (toDrive.length) {
    await rt.links.putRequest(requestId, toDrive, now);
    await startOnboard(rt, requestId, toDrive);
  }
  const first = results.find((r) => r.created) ?? results[0];
  // One target: the link itself; several: the list of this request's links.
  const location =
    results.length > 1 && accepted
      ? `/links?requestId=${requestId}`
      : first
        ? linkHref(first.link.id)
        : undefined;
  const response: ApiResult = {
    statusCode: accepted ? 202 : 200,
    headers: location ? { location } : {},
    body: {
      requestId: accepted ? requestId : null,
      links: results.map((r) => ({
        ...summary(r.link),
        created: r.created,
        redriven: !r.created && toDrive.includes(r.link.id),
      })),
    },
  };
  return response;
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
      };
    }),
  );
  return { statusCode: 200, body: { items, ...(link.approvals ? { approvals: link.approvals } : {}) } };
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
 * `POST /links/{id}/reconcile`: runs the link's ensures again — they read what is in the
 * accounts and change only the difference (new NAT IPs added, stale ones revoked, a drifted
 * policy rewritten).
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
  const name = `reconcile-${id}-v${link.version}`;
  try {
    // Who asks is the run's source identity; of two callers at one version, one gets LINK_BUSY.
    if (caller) await rt.links.recordRequester(id, link.version, caller, rt.now().toISOString());
    await startOnboard(rt, name, [id]);
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
