/**
 * Mistakes are caught before anything is made (issue 6, item 2): an access policy EKS does
 * not have (or one for AWS services), a Region of another partition, a `system:` group on an
 * access-entry cluster, a reserved username, a Region that does not exist. Each used to pass
 * validation and the plan, then fail after roles were made and undone (ending INTERNAL).
 * Now each is a 400 or 422 naming the field, from `POST /links` and `POST /plans` alike,
 * and nothing is written: no item in the table, no call to any account, the sandbox's saved
 * world byte for byte as it was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TABLE_NAME } from '#store/table';
import { startLocalRuntime } from '#local/runtime';
import { removeAllDirs, tempDir } from '../campaigns/support';
import { demoRequest, type Harness, harnessFor } from './harness';

let h: Harness;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('guardrails');
  h = harnessFor(await startLocalRuntime({ dataDir, retryIntervalMs: 1 }));
});

afterAll(async () => {
  await h?.close();
  removeAllDirs();
});

const CLUSTER_D = { accountId: '333333333333', region: 'eu-west-1', cluster: 'cluster-d' };
const target = (change: Record<string, unknown>) => ({ ...demoRequest().targets[0], ...change });

async function tableItems(): Promise<number> {
  const out = await h.rt.clients
    .dynamodb()
    .send(new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ConsistentRead: true }));
  return out.Items?.length ?? 0;
}

const savedWorld = () => readFileSync(join(dataDir, 'sandbox', 'sandbox.json'), 'utf8');

describe('a request with a mistake', () => {
  it.each([
    [
      'an access policy EKS does not have',
      {
        targets: [
          target({
            access: {
              policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewerPolicy',
              scope: { type: 'cluster' },
            },
          }),
        ],
      },
      400,
      'VALIDATION_FAILED',
      '/targets/0/access/policyArn',
    ],
    [
      'an access policy for AWS services',
      {
        targets: [
          target({
            access: {
              policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy',
              scope: { type: 'cluster' },
            },
          }),
        ],
      },
      400,
      'VALIDATION_FAILED',
      '/targets/0/access/policyArn',
    ],
    [
      'a target Region of another partition',
      { targets: [target({ region: 'cn-north-1' })] },
      422,
      'PARTITION_UNSUPPORTED',
      '/targets/0/region',
    ],
    [
      'a source Region of another partition',
      { source: { ...demoRequest().source, region: 'us-gov-west-1' } },
      422,
      'PARTITION_UNSUPPORTED',
      '/source/region',
    ],
    [
      'a system: group on an access-entry cluster',
      { targets: [{ ...CLUSTER_D, access: { groups: ['readers', 'system:authenticated'] } }] },
      400,
      'VALIDATION_FAILED',
      '/targets/0/access/groups/1',
    ],
    [
      'a username EKS reserves',
      { targets: [{ ...CLUSTER_D, access: { groups: ['readers'], username: 'eks:ci' } }] },
      400,
      'VALIDATION_FAILED',
      '/targets/0/access/username',
    ],
    [
      'a template that is not a trailing {{SessionName}}',
      { targets: [{ ...CLUSTER_D, access: { groups: ['readers'], username: '{{AccountID}}-ci' } }] },
      400,
      'VALIDATION_FAILED',
      '/targets/0/access/username',
    ],
    [
      'a Region that does not exist',
      { targets: [target({ region: 'xx-fake-1' })] },
      400,
      'VALIDATION_FAILED',
      '/targets/0/region',
    ],
  ])('is refused with the field, and writes nothing: %s', async (_case, change, status, code, pointer) => {
    const world = savedWorld();
    const calls = h.rt.sandbox.calls().length;
    const items = await tableItems();
    for (const [path, headers] of [
      ['/links', { 'idempotency-key': `guardrails${pointer.replaceAll('/', '.')}` }],
      ['/links', {}],
      ['/plans', {}],
    ] as const) {
      const res = await h.api('POST', path, demoRequest(change), headers);
      expect(res.status, `${path} ${res.text}`).toBe(status);
      expect(res.body.code, path).toBe(code);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        path,
      ).toEqual([pointer]);
    }
    await h.rt.stepFunctions.idle();
    expect(h.rt.sandbox.calls().length - calls).toBe(0);
    expect(await tableItems()).toBe(items);
    expect(savedWorld()).toBe(world);
  });

  it('with none of them is made, a trailing {{SessionName}} included', async () => {
    const res = await h.api(
      'POST',
      '/links',
      demoRequest({
        targets: [{ ...CLUSTER_D, access: { groups: ['readers'], username: 'ci-{{SessionName}}' } }],
      }),
    );
    expect(res.status, res.text).toBe(202);
    const link = await h.settle(res.body.links[0].id);
    expect(link.status, JSON.stringify(link.error)).toBe('ACTIVE');
  });
});
