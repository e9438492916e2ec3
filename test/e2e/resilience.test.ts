/**
 * What happens when AWS pushes back: throttling and IAM eventual consistency are retried
 * by the ASL; an unmanaged look-alike is a conflict that changes nothing; a restart keeps
 * every link and resource; a crash mid-onboard is re-driven to ACTIVE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { OFFBOARD_STEPS } from '#link/model';
import { afterAll, describe, expect, it } from 'vitest';
import { targetRoleName } from '#link/names';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { demoRequest, type Harness, harnessFor, startHarness } from './harness';
import { tetherResources } from './invariants';
import { startLocalRuntime } from '#local/runtime';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function onboardDemo(h: Harness) {
  const res = await h.api('POST', '/links', demoRequest());
  expect(res.status).toBe(202);
  return h.settle(res.body.links[0].id);
}

describe('throttling', () => {
  it('retries throttled IAM and EKS calls (the publicAccessCidrs update too) with backoff and ends ACTIVE', async () => {
    const h = await startHarness();
    try {
      h.rt.sandbox.injectFault({
        service: 'iam',
        operation: 'CreateRole',
        accountId: '222222222222',
        code: 'Throttling',
        times: 2,
      });
      h.rt.sandbox.injectFault({
        service: 'eks',
        operation: 'CreateAccessEntry',
        code: 'ThrottlingException',
        times: 1,
      });
      h.rt.sandbox.injectFault({
        service: 'eks',
        operation: 'UpdateClusterConfig',
        code: 'ThrottlingException',
        times: 1,
      });
      const link = await onboardDemo(h);
      expect(link.status).toBe('ACTIVE');
      expect(link.steps.targetRole.attempts).toBe(3);
      expect(link.steps.accessEntry.attempts).toBe(2);
      expect(link.steps.egress.attempts).toBe(2);
      const history = h.rt.stepFunctions.history(link.lastExecution.arn);
      const retried = history.filter((e) => e.type === 'StateRetried').map((e) => e.state);
      expect(retried.filter((s) => s === 'Ensure target role')).toHaveLength(2);
      expect(retried).toContain('Ensure access entry');
      expect(retried).toContain('Ensure egress allowance');
    } finally {
      await h.close();
    }
  });
});

describe('IAM eventual consistency', () => {
  it('retries an access entry whose new role EKS does not see yet, and ends ACTIVE', async () => {
    const h = await startHarness({ propagationDelayCalls: 2 });
    try {
      const link = await onboardDemo(h);
      expect(link.status).toBe('ACTIVE');
      expect(link.steps.accessEntry.attempts).toBeGreaterThan(1);
      const failed = h.rt.sandbox.calls().filter((c) => c.operation === 'CreateAccessEntry' && !c.ok);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed[0]?.errorCode).toBe('InvalidParameterException');
    } finally {
      await h.close();
    }
  });
});

describe('an unmanaged role with the target role name', () => {
  it('ends the link FAILED with CONFLICT_UNMANAGED_RESOURCE naming the role, and leaves the role as it was', async () => {
    const h = await startHarness();
    try {
      const name = targetRoleName({
        source: demoRequest().source,
        target: { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
      });
      const iam = new IAMClient({
        region: 'us-east-1',
        credentials: h.rt.sandbox.rootCredentials('222222222222'),
      });
      iam.middlewareStack.use(sandboxPlugin(h.rt.sandbox, 'iam', iam.config as never));
      const trust = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      });
      await iam.send(
        new CreateRoleCommand({ RoleName: name, Path: '/tether/', AssumeRolePolicyDocument: trust }),
      );
      const link = await onboardDemo(h);
      expect(link.status).toBe('FAILED');
      expect(link.error.code).toBe('CONFLICT_UNMANAGED_RESOURCE');
      expect(link.error.step, JSON.stringify(link.steps)).toBe('targetRole');
      expect(link.error.message).toContain(name);
      const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
      expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!))).toEqual(JSON.parse(trust));
      expect(role.Tags ?? []).toEqual([]);
      const changedIt = h.rt.sandbox
        .calls()
        .filter((c) => c.mutating && c.accountId === '222222222222' && c.service === 'iam' && c.ok);
      expect(changedIt.map((c) => c.operation)).toEqual(['CreateRole']); // only ours, above
    } finally {
      await h.close();
    }
  });
});

describe('a failed onboard', () => {
  it('is compensated: everything the link made is removed, and what it did not make is untouched', async () => {
    const h = await startHarness();
    try {
      // EKS refuses the access entry for good (not a retried error): the target branch fails
      // after its role was made, while the source branch makes the provider and workload role.
      h.rt.sandbox.injectFault({
        service: 'eks',
        operation: 'CreateAccessEntry',
        code: 'AccessDeniedException',
        times: 1,
      });
      const before = tetherResources(h.rt.sandbox);
      const link = await onboardDemo(h);
      expect(link.status).toBe('FAILED');
      expect(link.error.step).toBe('accessEntry');
      expect(link.steps.targetRole.result.action).toBe('created');
      expect(link.steps.workloadRole.status).toBe('SUCCEEDED');
      for (const step of OFFBOARD_STEPS) {
        expect(link.steps[step]?.status, step).toBe('SUCCEEDED');
      }
      expect(before).toEqual([]);
      expect(tetherResources(h.rt.sandbox)).toEqual([]);
      // A POST of the same request re-drives the FAILED link, to ACTIVE this time.
      const again = await h.api('POST', '/links', demoRequest());
      expect(again.status).toBe(202);
      expect(again.body.links[0]).toMatchObject({ id: link.id, redriven: true });
      expect((await h.settle(link.id)).status).toBe('ACTIVE');
    } finally {
      await h.close();
    }
  });
});

describe('the data directory', () => {
  it('keeps every link and resource across a restart, and the second start makes no mutating call', async () => {
    const dataDir = tempDir();
    const first = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
    const link = await onboardDemo(first);
    expect(link.status).toBe('ACTIVE');
    await first.close();

    const second = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
    try {
      expect(second.rt.redriven).toEqual([]);
      const again = await second.api('GET', `/links/${link.id}`);
      expect(again.body.status).toBe('ACTIVE');
      expect(again.body.version).toBe(link.version);
      const role = await second.rt.clients
        .iam('111111111111')
        .send(new GetRoleCommand({ RoleName: link.outputs.workloadRoleArn.split('/').pop() }));
      expect(role.Role?.Arn).toBe(link.outputs.workloadRoleArn);
      second.rt.sandbox.resetCalls();
      const post = await second.api('POST', '/links', demoRequest());
      expect(post.status).toBe(200);
      expect(second.rt.sandbox.callCounts({ mutating: true })).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('re-drives a link whose onboard was cut off by a crash, to ACTIVE', async () => {
    const dataDir = tempDir();
    const first = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
    // Crash right after the 4th mutating AWS call: abort every execution, as a killed process would.
    first.rt.sandbox.onMutatingCall = (n) => {
      if (n === 4) first.rt.halt();
    };
    const res = await first.api('POST', '/links', demoRequest());
    const id = res.body.links[0].id;
    await first.rt.stepFunctions.idle();
    await first.close();

    const second = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1, redrive: false }));
    const cut = await second.rt.links.get(id);
    expect(cut.status).toBe('PROVISIONING');
    expect(second.rt.sandbox.state().accounts['222222222222']).toBeDefined();
    await second.close();

    const third = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
    try {
      expect(third.rt.redriven).toEqual([id]);
      const link = await third.settle(id);
      expect(link.status).toBe('ACTIVE');
      expect(link.steps.verify.result.hops.every((x: { ok: boolean }) => x.ok)).toBe(true);
    } finally {
      await third.close();
    }
  });
});
