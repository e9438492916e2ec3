/**
 * A multi-target POST /links that crashes half-way (issue 6, item 1): right after each write
 * the request makes (its idempotency key, each reservation and commit of a workload →
 * target, each link item, each StartExecution, the request record), the request dies: none
 * of its later writes happens, not even the release of its idempotency key. As in AWS, only
 * the API request dies; runs it started go on. The client retries with the same
 * Idempotency-Key once the leases of the dead request are over, and the retry must finish
 * the request: the same request id, both links made once (found by the request id), one run
 * per link, both ACTIVE, and no natural key left reserved.
 */
import { createHash } from 'node:crypto';
import type { Pluggable } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { scopedIdempotencyKey } from '#api/access';
import { requestIdFor } from '#api/operations';
import { callerFromArn } from '#link/caller';
import { LOCAL_OPERATOR_ARN } from '#local/runtime';
import { DEMO_REQUEST } from '#local/demo';
import { canonicalJson } from '#link/canonical-json';
import { IDEMPOTENCY_LEASE_MS } from '#store/idempotency';
import { NATURAL_KEY_LEASE_MS } from '#store/links';
import { type LocalRuntime, startLocalRuntime } from '#local/runtime';
import { type Harness, harnessFor } from '../e2e/harness';
import { allLinks, tableMismatches, verifiedOk } from './support';

/** A two-target request of its own workload (one per crash point). */
const body = (namespace: string) => ({
  source: { ...DEMO_REQUEST.source, namespace, serviceAccount: 'indexer' },
  identity: { mode: 'irsa' },
  network: { mode: 'nat' },
  targets: [
    {
      accountId: '222222222222',
      region: 'ap-southeast-1',
      cluster: 'cluster-b',
      access: {
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        scope: { type: 'cluster' },
      },
    },
    { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d', access: { groups: ['readers'] } },
  ],
});

/** The value of a key attribute in a command's input, marshalled or not. */
const attr = (v: unknown): string =>
  typeof v === 'string' ? v : String((v as { S?: unknown } | undefined)?.S ?? '');

/**
 * Calls `onWrite` after each write the POST request itself makes: table writes of natural
 * keys, requests and idempotency keys, puts of link items (steps only update them), and
 * StartExecution (steps start none). Once `dead()` says so, every such write fails before it
 * is made: the request has died. Steps of the runs (memberships, link updates) go on.
 */
function watchRequestWrites(rt: LocalRuntime, onWrite: (label: string) => void, dead = () => false): void {
  const died = () =>
    Object.assign(new Error('The API request died here (simulated crash)'), { name: 'RequestDied' });
  const plugin = (service: 'sfn' | 'dynamodb'): Pluggable<any, any> => ({
    applyToStack(stack) {
      const middleware = (next: any, context: any) => async (args: any) => {
        const op = String(context.commandName ?? '').replace(/Command$/, '');
        let label: string | undefined;
        if (service === 'sfn') {
          if (op === 'StartExecution') label = `StartExecution ${args.input.name}`;
        } else {
          const pk = attr(args.input?.Item?.pk ?? args.input?.Key?.pk);
          const verb = /^(Put|Update|Delete)/.exec(op)?.[1];
          if (
            verb &&
            (/^(LINKKEY|REQUEST|IDEMPOTENCY)#/.test(pk) || (verb === 'Put' && pk.startsWith('LINK#')))
          )
            label = `${verb} ${pk.split('#')[0]}`;
        }
        if (label === undefined) return next(args);
        if (dead()) throw died();
        const out = await next(args);
        onWrite(label);
        return out;
      };
      if (service === 'sfn') {
        // The local Step Functions answers in a middleware of its own: come before it.
        stack.addRelativeTo(middleware, {
          relation: 'before',
          toMiddleware: 'tetherLocalStepFunctions',
          name: 'watchRequestWrites',
        });
      } else {
        stack.add(middleware, { step: 'initialize', name: 'watchRequestWrites', priority: 'low' });
      }
    },
  });
  rt.clients.dynamodb().middlewareStack.use(plugin('dynamodb'));
  rt.clients.sfn().middlewareStack.use(plugin('sfn'));
}

/** Onboard executions whose input names the link, oldest first. */
function runsOf(h: Harness, linkId: string) {
  const sfn = h.rt.stepFunctions;
  return sfn
    .listExecutions({ stateMachineArn: h.rt.runtime.stateMachines.onboard })
    .executions.filter((e) =>
      (JSON.parse(sfn.execution(e.executionArn)?.input ?? '{}').linkIds ?? []).includes(linkId),
    )
    .sort((a, b) => a.startDate.getTime() - b.startDate.getTime());
}

const OPERATOR = callerFromArn(LOCAL_OPERATOR_ARN)!;

describe('a multi-target POST /links that crashes half-way', () => {
  it('is finished by a retry with the same Idempotency-Key, whatever write it died after', async () => {
    const h = harnessFor(await startLocalRuntime({ retryIntervalMs: 5 }));
    try {
      // Each POST's writes, in order; the request dies once it has made `dieAfter` of them.
      const watch = { writes: [] as string[], dieAfter: Number.POSITIVE_INFINITY };
      watchRequestWrites(
        h.rt,
        (label) => watch.writes.push(label),
        () => watch.writes.length >= watch.dieAfter,
      );

      // The reference run: the writes of a whole request.
      const reference = await h.api('POST', '/links', body('crash-reference'), { 'idempotency-key': 'ref' });
      expect(reference.status).toBe(202);
      const writes = watch.writes;
      console.log(`a two-target POST writes ${writes.length} times: ${writes.join(', ')}`);
      expect(writes.filter((w) => w.startsWith('StartExecution'))).toHaveLength(2);

      const retried: { about: string; requestId: string; ids: string[] }[] = [];
      for (let k = 1; k <= writes.length; k++) {
        const about = `the request died right after write ${k} (${writes[k - 1]})`;
        const request = body(`crash-${k}`);
        const key = `crash-${k}`;
        watch.writes = [];
        watch.dieAfter = k;
        const died = await h.api('POST', '/links', request, { 'idempotency-key': key });
        // The last write stores the response: the request had finished.
        expect(died.status, about).toBe(k === writes.length ? 202 : 500);
        watch.dieAfter = Number.POSITIVE_INFINITY;

        // The client retries once the leases of the dead request are over.
        const lease = Math.max(IDEMPOTENCY_LEASE_MS, NATURAL_KEY_LEASE_MS) + 1_000;
        const runtime = h.rt.runtime as { now: () => Date };
        const clock = runtime.now;
        runtime.now = () => new Date(Date.now() + lease);
        const retry = await h.api('POST', '/links', request, { 'idempotency-key': key });
        runtime.now = clock;
        // The key as the table keeps it: scoped to the caller (the local operator here).
        const requestId = requestIdFor(
          scopedIdempotencyKey(OPERATOR, key),
          createHash('sha256').update(canonicalJson(request)).digest('hex'),
        );
        expect(retry.status, `${about}: ${retry.text}`).toBe(202);
        expect(retry.body.requestId, about).toBe(requestId);
        expect(
          retry.body.links.map((l: { created: boolean }) => l.created),
          about,
        ).toEqual([true, true]);
        expect(retry.headers.get('location'), about).toBe(`/links?requestId=${requestId}`);
        retried.push({ about, requestId, ids: retry.body.links.map((l: { id: string }) => l.id) });
      }

      for (const { about, requestId, ids } of retried) {
        // The links are found by the request id, made once, driven by one run each.
        const listed = await h.api('GET', `/links?requestId=${requestId}`);
        expect(listed.body.items.map((l: { id: string }) => l.id).sort(), about).toEqual([...ids].sort());
        for (const id of ids) {
          const link = await h.settle(id, 30_000);
          expect(link.status, `${about}: ${id} ${JSON.stringify(link.error)}`).toBe('ACTIVE');
          expect(verifiedOk(link), about).toBe(true);
          expect(
            runsOf(h, id).map((e) => e.name),
            `${about}: runs of ${id}`,
          ).toEqual([`onboard-${id}-v1`]);
        }
      }
      const all = await allLinks(h.rt);
      expect(all).toHaveLength(2 * (retried.length + 1));
      expect(await tableMismatches(h.rt, all)).toEqual([]);
    } finally {
      await h.close();
    }
  }, 60_000);
});
