/** The end-to-end harness: a local runtime and an HTTP client for its API. */
import { DEMO_REQUEST } from '#local/demo';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '#local/runtime';
import { IN_PROGRESS } from '#link/lifecycle';

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
  readonly text: string;
}

export async function startHarness(options: LocalRuntimeOptions = {}) {
  const rt = await startLocalRuntime({ retryIntervalMs: 1, ...options });
  return harnessFor(rt);
}

export function harnessFor(rt: LocalRuntime) {
  const api = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse> => {
    const raw = typeof body === 'string';
    const res = await fetch(`${rt.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: raw ? (body as string) : JSON.stringify(body) }),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: type.includes('json') && text ? JSON.parse(text) : text,
    };
  };

  /** Waits until the link leaves PENDING/PROVISIONING/DELETING and returns it. */
  const settle = async (id: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await rt.eventBus.idle();
      await rt.stepFunctions.idle();
      const res = await api('GET', `/links/${id}`);
      if (!IN_PROGRESS.has(res.body.status)) return res.body;
      if (Date.now() > deadline) throw new Error(`Link ${id} did not settle: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  /**
   * Approves a link waiting in AWAITING_APPROVAL as an owner of its target account, whom the
   * default policies let approve (explicit CIDRs, say, wait for one); returns the answer.
   */
  const approve = (link: { id: string; target: { accountId: string } }, reason: string) =>
    api(
      'POST',
      `/links/${link.id}/approval`,
      { decision: 'approve', reason },
      { 'x-tether-caller': `arn:aws:sts::${link.target.accountId}:assumed-role/cluster-owner/approver` },
    );

  return { rt, api, settle, approve, close: () => rt.close() };
}

export type Harness = ReturnType<typeof harnessFor>;

/** The demo link of the cross-account IRSA runbook (local/demo.ts) as a request body, with top-level overrides. */
export function demoRequest(overrides: Record<string, unknown> = {}) {
  return { ...(structuredClone(DEMO_REQUEST) as Record<string, any>), ...overrides };
}

/** The hops verify reports, in order, for an irsa link through a target role (the demo link). */
export const IRSA_CHAIN_HOPS = [
  'oidc-provider',
  'web-identity→workload-role',
  'trust-is-scoped',
  'workload-role-as-written',
  'workload-role→target-role',
  'workload-role-extras',
  'target-role-trusts-workload-role',
  'target-role-trust-is-scoped',
  'target-role-extras',
  'target-role→describe-cluster',
  'cluster-access',
  'kubernetes-verb',
  'network',
  'network-stale-allowance',
];
