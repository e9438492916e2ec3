/**
 * The drift sweep's admin call on the local runtime's HTTP port, beside the API (with the
 * embedded sandbox only, like the sandbox's own admin calls: no policy authorizes it; in AWS
 * the sweep runs on its schedule, infra/hub-stack.ts): `POST /_sandbox/sweep`
 * sweeps the live links once (`#resources/sweep`) and answers the report; with
 * `?wait=true` it also waits for the reconciles it started and adds, per link, its status
 * and what the reconcile changed (`steps.reconcile.result.changed`). `npm run sweep` calls it.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import type { SweepReport } from '#resources/sweep';
import type { Link } from '#link/model';

/** The path of the admin call. */
export const SWEEP_PATH = '/_sandbox/sweep';

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** What a sweep did to one link, once its reconcile ended. */
export interface SweptLinkOutcome {
  readonly linkId: string;
  readonly status: string;
  readonly changed: readonly { readonly step: string; readonly action: string }[];
}

/** The local runtime's side of the call: run one sweep, and wait for what it started. */
export interface LocalSweeper {
  sweep(): Promise<SweepReport>;
  /** Waits for the reconciles of a report and reads back each link. */
  outcomes(report: SweepReport): Promise<SweptLinkOutcome[]>;
}

/** The outcome of each reconciled link, from its record. */
export function outcomeOf(link: Link): SweptLinkOutcome {
  const changed = (link.steps.reconcile?.result?.changed ?? []) as SweptLinkOutcome['changed'];
  return { linkId: link.id, status: link.status, changed };
}

/** The API handler with the sweep's admin call in front of it. */
export function withSweepAdmin(api: ApiHandler, sweeper: LocalSweeper): ApiHandler {
  return async (event, context) => {
    if (event.rawPath !== SWEEP_PATH || event.requestContext.http.method !== 'POST')
      return api(event, context);
    const report = await sweeper.sweep();
    const wait = event.queryStringParameters?.wait === 'true';
    const body = wait ? { ...report, outcomes: await sweeper.outcomes(report) } : report;
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  };
}
