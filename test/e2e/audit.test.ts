/**
 * The audit trail in the member accounts (docs/architecture.md#who-may-link-what): every
 * call a link's run makes into a member account is made in an agent-role session named
 * after the link and the run, with `SourceIdentity` = the caller who asked, so each
 * account's CloudTrail (here: the sandbox's call log) ties every change to a link and a
 * person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkSessionName } from '#link/caller';
import type { CallRecord } from '#local/sandbox/index';
import { demoRequest, type Harness, startHarness } from './harness';

const ALICE = 'arn:aws:sts::111111111111:assumed-role/developer/alice';
const BOB = 'arn:aws:iam::222222222222:user/bob';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** The calls into member accounts (the hub's own are its AssumeRole calls). */
const memberCalls = (calls: readonly CallRecord[]) => calls.filter((c) => c.accountId !== '000000000000');

describe('the calls of a link’s runs', () => {
  it('are each made in the run’s session, with the asker as source identity: onboard, reconcile, offboard', async () => {
    // Arrange / Act: alice links, reconciles; bob (the target account) takes the link away.
    h.rt.sandbox.resetCalls();
    const id = (await h.api('POST', '/links', demoRequest(), { 'x-tether-caller': ALICE })).body.links[0].id;
    await h.settle(id);
    const onboard = h.rt.sandbox.calls();
    h.rt.sandbox.resetCalls();
    await h.api('POST', `/links/${id}/reconcile`, undefined, { 'x-tether-caller': ALICE });
    await h.settle(id);
    const reconcile = h.rt.sandbox.calls();
    h.rt.sandbox.resetCalls();
    await h.api('DELETE', `/links/${id}`, undefined, { 'x-tether-caller': BOB });
    const deleted = await h.settle(id);
    const offboard = h.rt.sandbox.calls();
    const runs = deleted.runs as { name: string; workflow: string }[];

    // Assert
    expect(runs.map((r) => r.workflow)).toEqual(['onboard', 'reconcile', 'offboard']);
    const [first, second, third] = runs.map((r) => linkSessionName(id, r.name));
    for (const [calls, session, identity] of [
      [onboard, first, 'alice'],
      [reconcile, second, 'alice'],
      [offboard, third, 'bob'],
    ] as const) {
      const mutating = memberCalls(calls).filter((c) => c.mutating);
      const ofTheRun = memberCalls(calls).filter((c) => c.sessionName === session);
      expect(ofTheRun.length).toBeGreaterThan(0);
      for (const call of ofTheRun) expect(call.sourceIdentity, `${call.operation}`).toBe(identity);
      // Every mutating call is the run's: none is made in another session or without an identity.
      for (const call of mutating) {
        expect({ op: call.operation, session: call.sessionName, identity: call.sourceIdentity }).toEqual({
          op: call.operation,
          session,
          identity,
        });
      }
    }
    expect(memberCalls(onboard).filter((c) => c.mutating).length).toBeGreaterThan(3);
    expect(memberCalls(offboard).filter((c) => c.mutating).length).toBeGreaterThan(3);
    // The API's own reads (the plan) are in the caller's API session.
    expect(memberCalls(onboard).filter((c) => c.sessionName === 'tether-api')).not.toEqual([]);
    expect(
      memberCalls(onboard)
        .filter((c) => c.sessionName === 'tether-api')
        .every((c) => !c.mutating && c.sourceIdentity === 'alice'),
    ).toBe(true);
  });

  it('shows each run’s session name with the run', async () => {
    // Arrange
    const body = demoRequest();
    body.source = { ...body.source, namespace: 'audit-runs' };
    const id = (await h.api('POST', '/links', body, { 'x-tether-caller': ALICE })).body.links[0].id;
    await h.settle(id);

    // Act
    const runs = await h.api('GET', `/links/${id}/runs`, undefined, { 'x-tether-caller': ALICE });

    // Assert
    expect(runs.body.items).toEqual([
      expect.objectContaining({
        requestedBy: ALICE,
        sessionName: linkSessionName(id, runs.body.items[0].name),
      }),
    ]);
  });

  it('names Tether itself, not the last person who asked, as the source identity of a reconcile a NAT change started', async () => {
    // Arrange: alice's link, then a NAT gateway of its source VPC replaced.
    const body = demoRequest();
    body.source = { ...body.source, namespace: 'audit-event' };
    const id = (await h.api('POST', '/links', body, { 'x-tether-caller': ALICE })).body.links[0].id;
    const active = await h.settle(id);
    const ip = (active.outputs.egress?.cidrs as string[] | undefined)?.[0]?.replace('/32', '');
    expect(ip).toBeDefined();
    h.rt.sandbox.resetCalls();

    // Act
    const replaced = await h.api('POST', '/_sandbox/nat-gateways/replace', {
      accountId: body.source.accountId,
      region: body.source.region,
      publicIp: ip,
    });
    await h.rt.eventBus.idle();
    const settled = await h.settle(id);
    const calls = h.rt.sandbox.calls();

    // Assert
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    const run = (settled.runs as { name: string; workflow: string; requestedBy?: string }[]).at(-1);
    expect(run).toMatchObject({ workflow: 'reconcile', requestedBy: 'tether-event' });
    // Every link of the VPC is reconciled; the CIDRs they share are written by whichever run
    // comes first, so the writes are looked for in all the links' runs the event started.
    const ofTheRun = memberCalls(calls).filter((c) => c.sessionName === linkSessionName(id, run?.name));
    expect(ofTheRun.length).toBeGreaterThan(0);
    const ofTheRuns = memberCalls(calls).filter((c) => c.sessionName?.startsWith('tether-lnk_'));
    expect(ofTheRuns.filter((c) => c.mutating).length).toBeGreaterThan(0);
    for (const call of ofTheRuns) expect(call.sourceIdentity, call.operation).toBe('tether-event');
  });
});
