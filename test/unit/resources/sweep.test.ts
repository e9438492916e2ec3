/**
 * The drift sweep (`#resources/sweep`), against the sandbox and the embedded table: what it
 * reads (a page of links per Query, shared reads once per sweep), where it stops and
 * continues, and that a link it cannot check is reported without stopping the others. The
 * reconcile it starts is covered end to end in test/e2e/sweep.test.ts.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { linkNaturalKey } from '#link/names';
import { isDrift, sweepLinks, sweepOnwards } from '#resources/sweep';
import { DEFAULT_TABLE_NAME, keys } from '#store/table';
import {
  newCluster,
  newSpec,
  onboard,
  type SandboxRuntime,
  startSandboxRuntime,
  TARGET_ACCOUNT,
} from './support';

let rt: SandboxRuntime;
/** Three links of three workloads of cluster-a's VPC to one target, stored ACTIVE. */
let links: Link[];

/** Stores an onboarded link as the workflow leaves it: ACTIVE, in the byCreated index. */
async function store(link: Link, createdAt: string): Promise<Link> {
  const active: Link = { ...link, status: 'ACTIVE', createdAt, updatedAt: createdAt };
  await rt.clients.dynamodb().send(
    new PutCommand({
      TableName: DEFAULT_TABLE_NAME,
      Item: {
        ...keys.link(link.id),
        gsi1pk: 'LINKS',
        gsi1sk: `${createdAt}#${link.id}`,
        naturalKey: linkNaturalKey(link.spec),
        ...active,
      },
    }),
  );
  return active;
}

const deps = () => ({ ...rt.runtime, stateMachines: {} });

beforeAll(async () => {
  rt = await startSandboxRuntime();
  const { ref } = newCluster(rt.sandbox, {
    accountId: TARGET_ACCOUNT,
    publicAccessCidrs: ['203.0.113.0/24'],
  });
  links = [];
  for (let i = 0; i < 3; i++) {
    const link = await onboard(rt.runtime, newSpec({ target: ref }));
    links.push(await store(link, `2026-01-01T00:00:0${i}.000Z`));
  }
});
afterAll(async () => {
  await rt?.close();
});

describe('sweepLinks', () => {
  it("reads a source VPC's NAT gateways and a target cluster once per sweep, however many links share them", async () => {
    // Arrange
    rt.sandbox.resetCalls();

    // Act
    const report = await sweepLinks(deps());

    // Assert
    expect(report).toMatchObject({
      checked: 3,
      drifted: [],
      reconciles: [],
      errors: [],
      pages: 1,
      itemsRead: 3,
    });
    expect(report.verificationsWritten).toBe(3); // their first
    expect(rt.sandbox.callCounts({ operation: 'DescribeNatGateways' })).toBe(1);
    expect(rt.sandbox.callCounts({ operation: 'DescribeCluster' })).toBe(1);
    expect(rt.sandbox.callCounts({ mutating: true })).toBe(0);
    // Each link's own target role is read for each link.
    expect(rt.sandbox.callCounts({ operation: 'ListAssociatedAccessPolicies' })).toBe(3);
  });

  it('writes nothing when nothing changed since the last sweep', async () => {
    // Act
    const report = await sweepLinks(deps());

    // Assert
    expect(report).toMatchObject({ checked: 3, verificationsWritten: 0, drifted: [] });
  });

  it('stops at its deadline with a cursor, and a sweep from that cursor checks the rest', async () => {
    // Act
    const first = await sweepLinks(deps(), { pageSize: 1, outOfTime: () => true });
    const rest = await sweepLinks(deps(), { pageSize: 1, ...(first.next ? { cursor: first.next } : {}) });

    // Assert
    expect(first.checked).toBe(1);
    expect(first.next).toBeDefined();
    expect(rest.checked).toBe(2);
    expect(rest.next).toBeUndefined();
  });

  it('goes on where the last sweep stopped (the cursor kept in the table), and forgets it once a sweep gets to the end', async () => {
    // Act
    const first = await sweepOnwards(deps(), { pageSize: 1, outOfTime: () => true });
    const kept = await rt.runtime.links.sweepCursor();
    const second = await sweepOnwards(deps(), { pageSize: 1 });
    const left = await rt.runtime.links.sweepCursor();
    const third = await sweepOnwards(deps(), { pageSize: 1 });

    // Assert: links 1, then 2 and 3, then all three from the oldest again
    expect(first).toMatchObject({ checked: 1, continued: false });
    expect(kept).toEqual(first.next);
    expect(second).toMatchObject({ checked: 2, continued: true });
    expect(second.next).toBeUndefined();
    expect(left).toBeUndefined();
    expect(third).toMatchObject({ checked: 3, continued: false });
  });

  it('reports a link it could not check, and checks the others', async () => {
    // Arrange: the target account refuses the next ListAssociatedAccessPolicies.
    rt.sandbox.injectFault({
      service: 'eks',
      operation: 'ListAssociatedAccessPolicies',
      code: 'AccessDeniedException',
      statusCode: 403,
    });

    // Act
    const report = await sweepLinks(deps(), { concurrency: 1 });

    // Assert
    expect(report.checked).toBe(2);
    expect(report.errors).toEqual([{ linkId: links[0]?.id, message: expect.any(String) }]);
  });
});

describe('a shared read that fails', () => {
  it('is not kept: the next link that needs it reads again', async () => {
    // Arrange: the source account refuses the next DescribeNatGateways.
    rt.sandbox.injectFault({
      service: 'ec2',
      operation: 'DescribeNatGateways',
      code: 'UnauthorizedOperation',
    });
    rt.sandbox.resetCalls();

    // Act
    const report = await sweepLinks(deps(), { concurrency: 1 });

    // Assert
    expect(report.errors.map((e) => e.linkId)).toEqual([links[0]?.id]);
    expect(report.checked).toBe(2);
    expect(rt.sandbox.callCounts({ operation: 'DescribeNatGateways' })).toBe(2);
  });
});

describe('isDrift', () => {
  it.each([
    [{ hop: 'network', ok: false, detail: '' }, true],
    [{ hop: 'network', ok: true, detail: '' }, false],
    [{ hop: 'network-stale-allowance', ok: false, advisory: true, detail: '' }, true],
    [{ hop: 'source-principal→target-role', ok: false, advisory: true, detail: '' }, false],
    [{ hop: 'kubernetes-verb', ok: true, advisory: true, detail: 'not judged' }, false],
  ])('%o is drift: %s', (hop, drift) => {
    expect(isDrift(hop)).toBe(drift);
  });
});
