/**
 * The API's operations, as plain functions of a validated request (the router has already
 * checked it against `api/openapi.yaml`). They read and write the table and start
 * workflows; they never call member accounts except the read-only plan checks.
 */
import { createHash } from 'node:crypto';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ulid } from 'ulid';
import { AccountNotReachableError, ClusterNotFoundError, LinkStateError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { Link, LinkSpec, LinkStatus, OnboardingRequest } from '#link/model';
import { clusterKey, targetRoleName, workloadRoleName } from '#link/names';
import type { LinkFilters } from '#store/links';
import { describeCluster } from '#resources/resolve';
import { canonicalJson } from '#resources/iam-role';
import type { TetherRuntime } from '#functions/runtime';
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

/** One link spec per target of the request. */
export function specsOf(request: OnboardingRequest): LinkSpec[] {
  return request.targets.map((t) => ({
    source: request.source,
    target: { accountId: t.accountId, region: t.region, cluster: t.cluster },
    access: t.access,
    network: request.network,
    identity: request.identity,
  }));
}

/** Statuses in which a POST re-drives an existing link rather than only returning it. */
const REDRIVEN: readonly LinkStatus[] = ['PENDING', 'FAILED'];

/**
 * The plan's checks (DESIGN.md, "The same checks run first as a plan"): read-only calls
 * that find what would make the workflow fail for certain — a missing cluster, an account
 * Tether cannot reach, a source without an OIDC issuer.
 */
export async function planChecks(rt: TetherRuntime, request: OnboardingRequest) {
  const clusters = [request.source, ...request.targets];
  const seen = new Map<string, Promise<unknown>>();
  const checks: { check: string; ok: boolean; detail: string }[] = [];
  for (const c of clusters) {
    const key = clusterKey(c);
    if (seen.has(key)) continue;
    seen.set(
      key,
      describeCluster(rt.clients.eks(c.accountId, c.region), c).then(
        (cluster) => {
          checks.push({
            check: `cluster ${key}`,
            ok: true,
            detail: `${cluster.status ?? 'ACTIVE'}, ${cluster.accessConfig?.authenticationMode ?? 'CONFIG_MAP'}`,
          });
          if (c === request.source && request.identity.mode === 'irsa' && !cluster.identity?.oidc?.issuer) {
            throw new ApiError(
              'UNSUPPORTED_CLUSTER',
              `Source cluster ${key} has no OIDC issuer, which irsa needs`,
            );
          }
          if (c !== request.source) {
            const mode = cluster.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
            const t = c as OnboardingRequest['targets'][number];
            if (mode === 'CONFIG_MAP' && 'policyArn' in t.access) {
              throw new ApiError(
                'UNSUPPORTED_CLUSTER',
                `Target cluster ${key} uses the aws-auth ConfigMap only (CONFIG_MAP mode), which cannot attach EKS access policies: ask for Kubernetes groups`,
              );
            }
          }
        },
        (err: unknown) => {
          if (err instanceof ClusterNotFoundError) throw new ApiError('CLUSTER_NOT_FOUND', err.message);
          if (err instanceof AccountNotReachableError)
            throw new ApiError('ACCOUNT_NOT_REACHABLE', err.message);
          if (isAwsError(err, 'AccessDenied', 'AccessDeniedException')) {
            throw new ApiError('ACCOUNT_NOT_REACHABLE', `Tether may not describe cluster ${key}`);
          }
          throw err;
        },
      ),
    );
  }
  await Promise.all(seen.values());
  return checks;
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

/** `POST /plans`: what `POST /links` would do, changing nothing. */
export async function createPlan(rt: TetherRuntime, request: OnboardingRequest): Promise<ApiResult> {
  assertSupported(request);
  const checks = await planChecks(rt, request);
  const targets = await Promise.all(
    specsOf(request).map(async (spec) => {
      const existing = await rt.links.findByNaturalKey(spec);
      return {
        target: spec.target,
        existingLink: existing ? { id: existing.id, status: existing.status } : null,
        action: existing ? (REDRIVEN.includes(existing.status) ? 'redrive' : 'none') : 'create',
        resources: {
          workloadRole: workloadRoleName(spec.source),
          targetRole: targetRoleName(spec),
          accessEntry:
            'policyArn' in spec.access ? spec.access.policyArn : `groups ${spec.access.groups.join(',')}`,
          network: spec.network.mode,
        },
      };
    }),
  );
  return { statusCode: 200, body: { checks, targets } };
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
      input: JSON.stringify({ requestId, linkIds }),
    }),
  );
}

/** `POST /links`. */
export async function createLinks(
  rt: TetherRuntime,
  request: OnboardingRequest,
  idempotencyKey: string | undefined,
): Promise<ApiResult> {
  assertSupported(request);
  const bodyHash = createHash('sha256').update(canonicalJson(request)).digest('hex');
  if (idempotencyKey) {
    const state = await rt.links.beginIdempotent(idempotencyKey, bodyHash, rt.now().getTime());
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
    await planChecks(rt, request);
    // An existing link of the same workload → target must have the same spec: a POST never
    // changes a link silently. Checked for every target before anything is made.
    for (const spec of specsOf(request)) {
      const existing = await rt.links.findByNaturalKey(spec);
      if (existing && canonicalJson(existing.spec) !== canonicalJson(spec)) {
        throw new ApiError(
          'LINK_SPEC_MISMATCH',
          `Link ${existing.id} already links this workload to ${clusterKey(spec.target)} with another access, network or identity; delete it first, or ask for the same spec`,
        );
      }
    }
    const requestId = `req_${ulid()}`;
    const now = rt.now().toISOString();
    const results = [];
    for (const spec of specsOf(request)) {
      results.push(await rt.links.createOrGet(`lnk_${ulid()}`, requestId, spec, now));
    }
    const toDrive: string[] = [];
    for (const r of results) {
      if (r.created || (REDRIVEN.includes(r.link.status) && !(await stillRunning(rt, r.link))))
        toDrive.push(r.link.id);
    }
    if (toDrive.length) {
      await rt.links.putRequest(requestId, toDrive, now);
      await startOnboard(rt, requestId, toDrive);
    }
    const first = results.find((r) => r.created) ?? results[0];
    // One target: the link itself; several: the list of this request's links.
    const location =
      results.length > 1 && toDrive.length
        ? `/links?requestId=${requestId}`
        : first
          ? linkHref(first.link.id)
          : undefined;
    const response: ApiResult = {
      statusCode: toDrive.length ? 202 : 200,
      headers: location ? { location } : {},
      body: {
        requestId: toDrive.length ? requestId : null,
        links: results.map((r) => ({
          ...summary(r.link),
          created: r.created,
          redriven: !r.created && toDrive.includes(r.link.id),
        })),
      },
    };
    if (idempotencyKey) await rt.links.completeIdempotent(idempotencyKey, response);
    return response;
  } catch (err) {
    // Nothing was promised for this key: let the caller retry with it.
    if (idempotencyKey) await rt.links.abandonIdempotent(idempotencyKey).catch(() => undefined);
    throw err;
  }
}

export async function getLink(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  return { statusCode: 200, body: presentLink(link) };
}

/**
 * Cursor: the table's LastEvaluatedKey on the `byCreated` index, base64url JSON, checked on
 * the way back in — exactly the four keys, in the shape this API writes them.
 */
function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () => new ApiError('INVALID_CURSOR', 'The cursor is not one this API returned');
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid();
  }
  const valid =
    key !== null &&
    typeof key === 'object' &&
    !Array.isArray(key) &&
    Object.keys(key).sort().join() === 'gsi1pk,gsi1sk,pk,sk' &&
    key.gsi1pk === 'LINKS' &&
    key.sk === 'LINK' &&
    typeof key.pk === 'string' &&
    /^LINK#lnk_[0-9A-HJKMNP-TV-Z]{26}$/.test(key.pk) &&
    typeof key.gsi1sk === 'string' &&
    /^\d{4}-\d{2}-\d{2}T[\d:.]+Z#lnk_[0-9A-HJKMNP-TV-Z]{26}$/.test(key.gsi1sk);
  if (!valid) throw invalid();
  return key;
}

export async function listLinks(rt: TetherRuntime, query: Record<string, string>): Promise<ApiResult> {
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
      throw new ApiError('INVALID_CURSOR', 'The cursor is not one this API returned');
    }
    throw err;
  }
  return {
    statusCode: 200,
    body: {
      items: page.items.map(presentLink),
      ...(page.next ? { nextCursor: Buffer.from(JSON.stringify(page.next)).toString('base64url') } : {}),
    },
  };
}

const READY: readonly LinkStatus[] = ['ACTIVE', 'RECONCILING', 'DEGRADED'];

export async function getKubeconfig(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link) throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  const kubeconfig = link.outputs.kubeconfig;
  if (!READY.includes(link.status) || typeof kubeconfig !== 'string') {
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
      };
    }),
  );
  return { statusCode: 200, body: { items } };
}

/** Statuses from which a link may be offboarded; a link being made or repaired must finish first. */
const DELETABLE: readonly LinkStatus[] = ['ACTIVE', 'FAILED', 'DEGRADED', 'DELETING'];

/** `DELETE /links/{id}`: DELETING now (a conditional write), then the offboard workflow. */
export async function deleteLink(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link || link.status === 'DELETED') throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  if (!DELETABLE.includes(link.status)) {
    throw new ApiError('LINK_BUSY', `Link ${id} is ${link.status}; delete it once it is ACTIVE or FAILED`);
  }
  if (!rt.stateMachines.offboard) throw new Error('No offboard state machine is configured');
  let deleting: Link;
  try {
    deleting = await rt.links.transition(id, 'DELETING', rt.now().toISOString());
  } catch (err) {
    if (err instanceof LinkStateError) throw new ApiError('LINK_BUSY', err.message);
    throw err;
  }
  await rt.clients.sfn().send(
    new StartExecutionCommand({
      stateMachineArn: rt.stateMachines.offboard,
      name: `offboard-${id}-v${deleting.version}`,
      input: JSON.stringify({ linkId: id }),
    }),
  );
  return {
    statusCode: 202,
    headers: { location: linkHref(id) },
    body: { ...summary(deleting) },
  };
}

/** Statuses from which a link may be reconciled (its ensures run again against what is there). */
const RECONCILABLE: readonly LinkStatus[] = ['ACTIVE', 'DEGRADED', 'FAILED'];

/**
 * `POST /links/{id}/reconcile`: runs the link's ensures again — they read what is in the
 * accounts and change only the difference (new NAT IPs added, stale ones revoked, a drifted
 * policy rewritten).
 */
export async function reconcileLink(rt: TetherRuntime, id: string): Promise<ApiResult> {
  const link = await rt.links.find(id);
  if (!link || link.status === 'DELETED') throw new ApiError('LINK_NOT_FOUND', `Link ${id} does not exist`);
  if (!RECONCILABLE.includes(link.status)) {
    throw new ApiError(
      'LINK_BUSY',
      `Link ${id} is ${link.status}; reconcile it once it is ACTIVE, DEGRADED or FAILED`,
    );
  }
  const name = `reconcile-${id}-v${link.version}`;
  try {
    await startOnboard(rt, name, [id]);
  } catch (err) {
    if ((err as Error).name === 'ExecutionAlreadyExists') {
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
