/**
 * The CLI's commands run in-process (`run()` of cli/program.ts, the code the binary runs,
 * without a process per command) against a local runtime started here: the flows beyond
 * test/cli/link.test.ts — requests from files and stdin, plan, link wait, reconcile, a
 * failed link with its compensation and its re-drive, runs and verify, a wait timeout.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { GetRoleCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { run } from '#cli/program';
import { OFFBOARD_STEPS } from '#link/model';
import { type Harness, IRSA_CHAIN_HOPS, startHarness } from '../e2e/harness';
import { memoryIo } from '../unit/cli/io';
import { clientsFor } from '../unit/local/sandbox/helpers';
import { type CliResult, linkCreate, shown, tempDir } from './run-cli';

const DEMO_SOURCE = '111111111111/ap-southeast-1/cluster-a/kubeai-chatbot/kubeai-chatbot';
const CLUSTER_B = '222222222222/ap-southeast-1/cluster-b';
const CLUSTER_B_ARN = 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b';

let h: Harness;
let demoId: string;

async function cli(
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  const io = memoryIo(
    { TETHER_POLL_INTERVAL: '20ms', HOME: tempDir('tether-home-'), ...options.env },
    options.input,
  );
  const code = await run(['--endpoint', h.rt.url, ...args], io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

beforeAll(async () => {
  h = await startHarness();
  const r = await cli(linkCreate(DEMO_SOURCE, CLUSTER_B, '--policy', 'AmazonEKSViewPolicy', '--wait'));
  expect(r.code, shown(r)).toBe(0);
  demoId = /Link (lnk_[0-9A-Z]{26}): ACTIVE/.exec(r.stdout)![1]!;
});
afterAll(async () => {
  await h?.close();
});

describe('link create and list', () => {
  it('answers 200 for the same request again: the link exists, nothing to wait for', async () => {
    const r = await cli(linkCreate(DEMO_SOURCE, CLUSTER_B, '--policy', 'AmazonEKSViewPolicy', '--wait'));
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toContain('Every link exists (200)');
    expect(r.stdout).toContain(`${demoId}  ACTIVE`);
    expect(r.stdout).toContain(`Link ${demoId}: ACTIVE`);
  });
  it('link list filters, and pages with --limit / --all', async () => {
    const [none, all] = await Promise.all([
      cli(['link', 'list', '--target-cluster', 'nope', '-o', 'json']),
      cli(['link', 'list', '--limit', '1', '--all', '-o', 'json']),
    ]);
    expect(JSON.parse(none.stdout)).toEqual({ items: [] });
    expect(JSON.parse(all.stdout).items.map((l: any) => l.id)).toContain(demoId);
  });
});

describe('link runs and link verify', () => {
  it('link runs: the executions and the result of every step', async () => {
    const [text, json] = await Promise.all([
      cli(['link', 'runs', demoId]),
      cli(['link', 'runs', demoId, '-o', 'json']),
    ]);
    expect(text.code, shown(text)).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^onboard-${demoId}-v\\d+\\s+onboard\\s+SUCCEEDED\\s`, 'm'));
    expect(text.stdout).toMatch(/Ensure target role\s+SUCCEEDED\s+1\s+\S+ \S+\s+\d[\d.]* m?s\s+created/);
    const runs = JSON.parse(json.stdout);
    expect(runs.runs).toEqual([expect.objectContaining({ workflow: 'onboard', status: 'SUCCEEDED' })]);
    expect(runs.steps.verify).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('link verify: every hop of the role chain, whether it holds and why', async () => {
    const r = await cli(['link', 'verify', demoId]);
    expect(r.code, shown(r)).toBe(0);
    for (const hop of IRSA_CHAIN_HOPS) {
      expect(r.stdout).toMatch(new RegExp(`✓ ${hop}\\s+holds\\s+\\S`));
    }
    expect(r.stdout).toMatch(
      new RegExp(
        `Verified \\S+ \\S+ by arn:aws:iam::000000000000:role/tether-operator: all ${IRSA_CHAIN_HOPS.length} hops hold`,
      ),
    );
    const json = JSON.parse((await cli(['link', 'verify', demoId, '-o', 'json'])).stdout);
    expect(json.verify.result.hops).toHaveLength(IRSA_CHAIN_HOPS.length); // the onboard's own step
    expect(json.verification).toMatchObject({ ok: true, hops: expect.any(Array) });
    // Stored on the link: the API shows it, and --recorded shows it without reading the accounts.
    const link = JSON.parse((await cli(['link', 'get', demoId, '-o', 'json'])).stdout);
    expect(link.verification).toEqual(json.verification);
    const recorded = await cli(['link', 'verify', demoId, '--recorded']);
    expect(recorded.code, shown(recorded)).toBe(0);
    expect(recorded.stdout).toContain(`Verified`);
  });

  /** A link of its own workload (its roles shared with no other test), ACTIVE. */
  async function activeLink(sa: string): Promise<any> {
    const r = await cli(
      linkCreate(
        `111111111111/ap-southeast-1/cluster-a/verify/${sa}`,
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--wait',
      ),
    );
    expect(r.code, shown(r)).toBe(0);
    const id = /Link (lnk_[0-9A-Z]{26}): ACTIVE/.exec(r.stdout)![1]!;
    return JSON.parse((await cli(['link', 'get', id, '-o', 'json'])).stdout);
  }

  /** Rewrites a role's trust policy by hand (the root of its account), as drift would. */
  async function alterTrust(roleArn: string, change: (trust: any) => void): Promise<void> {
    const [, accountId, name] = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn)!;
    const { iam } = clientsFor(h.rt.sandbox, h.rt.sandbox.rootCredentials(accountId!));
    const role = (await iam.send(new GetRoleCommand({ RoleName: name! }))).Role!;
    const text = role.AssumeRolePolicyDocument!;
    const trust = JSON.parse(text.startsWith('{') ? text : decodeURIComponent(text));
    change(trust);
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: name!, PolicyDocument: JSON.stringify(trust) }),
    );
  }

  it.each([
    [
      'a workload role trust with the wrong sub',
      'sub',
      'web-identity→workload-role',
      (link: any) =>
        alterTrust(link.outputs.workloadRoleArn, (t) => {
          const c = t.Statement[0].Condition.StringEquals;
          const key = Object.keys(c).find((k) => k.endsWith(':sub'))!;
          c[key] = 'system:serviceaccount:verify:someone-else';
        }),
    ],
    [
      'a workload role trust with the wrong aud',
      'aud',
      'web-identity→workload-role',
      (link: any) =>
        alterTrust(link.outputs.workloadRoleArn, (t) => {
          const c = t.Statement[0].Condition.StringEquals;
          const key = Object.keys(c).find((k) => k.endsWith(':aud'))!;
          c[key] = 'not-sts.example.com';
        }),
    ],
    [
      'a target role trust naming another role',
      'other-role',
      'target-role-trusts-workload-role',
      (link: any) =>
        alterTrust(link.outputs.targetRoleArn, (t) => {
          // Not role/someone-else: that is the role target-role-trust-is-scoped checks is refused.
          t.Statement[0].Condition.ArnEquals['aws:PrincipalArn'] = 'arn:aws:iam::111111111111:role/intruder';
        }),
    ],
  ] as const)('%s (%s) is reported broken at the hop %s, exit 3', async (_name, sa, hop, alter) => {
    // Arrange
    const link = await activeLink(sa);
    await alter(link);

    // Act
    const r = await cli(['link', 'verify', link.id]);

    // Assert
    expect(r.code, shown(r)).toBe(3);
    // A workload role's trust changed by hand is also not the one Tether wrote.
    const expected = hop.startsWith('web-identity') ? [hop, 'workload-role-as-written'] : [hop];
    expect(r.stdout).toMatch(new RegExp(`✗ ${hop}\\s+does not hold\\s+\\S`));
    const broken = [...r.stdout.matchAll(/✗ (\S+)/g)].map((m) => m[1]);
    expect(broken).toEqual(expected);
    expect(r.stderr).toBe(
      `error VERIFICATION_FAILED: the chain of link ${link.id} does not hold at ${expected.join(', ')}\n`,
    );
    const stored = JSON.parse((await cli(['link', 'get', link.id, '-o', 'json'])).stdout).verification;
    expect(stored.ok).toBe(false);
    expect(stored.hops.filter((h: any) => !h.ok).map((h: any) => h.hop)).toEqual(expected);
  });
});

describe('link kubeconfig --merge', () => {
  it('--merge writes the default kubeconfig (~/.kube/config) when there is none, private to its owner', async () => {
    const home = tempDir('tether-home-');
    const r = await cli(['link', 'kubeconfig', demoId, '--merge'], { env: { HOME: home } });
    expect(r.code, shown(r)).toBe(0);
    const path = join(home, '.kube', 'config');
    expect(r.stdout).toContain(`Added new context ${CLUSTER_B_ARN} to ${path}`);
    expect(r.stdout).toContain(`Current context: ${CLUSTER_B_ARN}`); // the file had none
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(YAML.parse(readFileSync(path, 'utf8')).contexts).toHaveLength(1);
  });
});

describe('a request from a file, and --output json with --wait', () => {
  it('creates from YAML, draws the steps on stderr and prints the settled links as JSON', async () => {
    const file = join(tempDir(), 'request.yaml');
    writeFileSync(
      file,
      [
        'source:',
        '  accountId: "111111111111"',
        '  region: ap-southeast-1',
        '  cluster: cluster-a',
        '  namespace: kubeai-chatbot',
        '  serviceAccount: kubeai-chatbot',
        'targets:',
        '  - accountId: "333333333333"',
        '    region: eu-west-1',
        '    cluster: cluster-d',
        '    access:',
        '      policyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
        '      scope: {type: namespace, namespaces: [kubeai-chatbot]}',
        '',
      ].join('\n'),
    );
    const plan = await cli(['plan', '-f', file, '-o', 'json']);
    expect(plan.code, shown(plan)).toBe(0);
    expect(JSON.parse(plan.stdout).targets[0]).toMatchObject({ action: 'create', existingLink: null });

    const r = await cli(['link', 'create', '-f', file, '--wait', '-o', 'json']);
    expect(r.code, shown(r)).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.links).toHaveLength(1);
    expect(out.links[0]).toMatchObject({
      status: 'ACTIVE',
      spec: { access: { scope: { type: 'namespace', namespaces: ['kubeai-chatbot'] } } },
    });
    expect(r.stderr).toMatch(/✓ Ensure access entry\s+\d[\d.]* m?s\s+created/);

    const again = await cli(['plan', '-f', file]);
    expect(again.code, shown(again)).toBe(0);
    expect(again.stdout).toMatch(
      /333333333333\/eu-west-1\/cluster-d: none \(existing link lnk_\S+, ACTIVE\)/,
    );
    expect(again.stdout).toMatch(/✓ cluster 333333333333\/eu-west-1\/cluster-d/);
  });

  it('reads the request from stdin with -f -', async () => {
    const body = { source: { accountId: '111111111111' }, targets: [] };
    const r = await cli(['plan', '-f', '-'], { input: JSON.stringify(body) });
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr).toMatch(/^error VALIDATION_FAILED: /);
    expect(r.stderr).toContain('/source/region (body)');
    expect(r.stderr).toContain('/targets (body)');
  });
});

describe('create without --wait, then link wait / reconcile', () => {
  it('create returns at once; link wait follows the run to ACTIVE', async () => {
    const created = await cli(
      linkCreate(
        '111111111111/ap-southeast-1/cluster-a/jobs/runner',
        CLUSTER_B,
        '--group',
        'tether-readers',
        '--network',
        'none',
      ),
    );
    expect(created.code, shown(created)).toBe(0);
    const id = /Follow: tether link wait (lnk_\S+)/.exec(created.stdout)?.[1];
    expect(id, shown(created)).toBeDefined();
    const waited = await cli(['link', 'wait', id!]);
    expect(waited.code, shown(waited)).toBe(0);
    expect(waited.stdout).toContain(`Link ${id}: ACTIVE`);
    const got = JSON.parse((await cli(['link', 'get', id!, '-o', 'json'])).stdout);
    expect(got.spec).toMatchObject({ access: { groups: ['tether-readers'] }, network: { mode: 'none' } });
  });

  it('link reconcile --wait runs the ensures again and changes nothing', async () => {
    const r = await cli(['link', 'reconcile', demoId, '--wait']);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toMatch(/reconciling \(reconcile-lnk_\S+-v\d+\)/);
    expect(r.stdout).toMatch(/✓ Ensure workload role\s+\d[\d.]* m?s\s+unchanged/);
    expect(r.stdout).toMatch(
      /✓ Ensure egress allowance\s+\d[\d.]* m?s\s+unchanged \(publicAccessCidrs: 0 added, 3 unchanged\)/,
    );
    expect(r.stdout).toContain(`Link ${demoId}: ACTIVE`);
    const runs = JSON.parse((await cli(['link', 'runs', demoId, '-o', 'json'])).stdout).runs;
    expect(runs.map((x: any) => x.name)[0]).toMatch(/^reconcile-/);
    expect(runs).toHaveLength(2);
  });
});

describe('a link that fails', () => {
  const source = '111111111111/ap-southeast-1/cluster-a/payments/api';
  const target = '333333333333/eu-west-1/cluster-d';

  it('--wait shows the failed step and the undo steps, prints the link error code and exits 3', async () => {
    h.rt.sandbox.injectFault({
      service: 'eks',
      operation: 'CreateAccessEntry',
      accountId: '333333333333',
      code: 'AccessDeniedException',
      times: 1,
    });
    const r = await cli(linkCreate(source, target, '--policy', 'AmazonEKSViewPolicy', '--wait'));
    expect(r.code, shown(r)).toBe(3);
    expect(r.stdout).toMatch(/✗ Ensure access entry\s+\d[\d.]* m?s\s+\S+: /);
    expect(r.stdout).toMatch(/✓ Undo: remove target role\s+\d[\d.]* m?s\s+deleted/);
    expect(r.stderr).toMatch(/^error [A-Z_]+: link lnk_\S+ is FAILED at step accessEntry: /m);
    const id = /link (lnk_\S+) is FAILED/.exec(r.stderr)![1]!;

    const [runs, runsJson] = await Promise.all([
      cli(['link', 'runs', id]),
      cli(['link', 'runs', id, '-o', 'json']),
    ]);
    expect(runs.code, shown(runs)).toBe(0);
    expect(runs.stdout).toMatch(new RegExp(`^onboard-${id}-v1\\s+onboard\\s+(SUCCEEDED|FAILED)\\s`, 'm'));
    expect(runs.stdout).toMatch(/Ensure access entry\s+FAILED\s+1\s/);
    expect(runs.stdout).toMatch(/Error: \S+ at accessEntry: /);
    const recorded = JSON.parse(runsJson.stdout).steps;
    for (const step of OFFBOARD_STEPS) expect(recorded[step]?.status, step).toBe('SUCCEEDED');

    const lastRecorded = await cli(['link', 'verify', id, '--recorded']);
    expect(lastRecorded.code, shown(lastRecorded)).toBe(3);
    expect(lastRecorded.stdout).toContain('No verify result on the link yet.');
    expect(lastRecorded.stderr).toMatch(/^error NOT_VERIFIED: /);
    // Proved now: the compensation removed the roles, so the chain is broken from its first hop.
    const verify = await cli(['link', 'verify', id]);
    expect(verify.code, shown(verify)).toBe(3);
    expect(verify.stdout).toMatch(/✗ web-identity→workload-role\s+does not hold/);
    expect(verify.stderr).toMatch(
      /^error VERIFICATION_FAILED: the chain of link \S+ does not hold at web-identity→workload-role, /,
    );

    // The same request again re-drives the FAILED link; --wait follows the new run to ACTIVE.
    const again = await cli(linkCreate(source, target, '--policy', 'AmazonEKSViewPolicy', '--wait'));
    expect(again.code, shown(again)).toBe(0);
    expect(again.stdout).toContain(`${id}  PENDING  → cluster-d (333333333333, eu-west-1)  re-driven`);
    expect(again.stdout).toMatch(/✓ Ensure access entry\s+\d[\d.]* m?s\s+created/);
    expect(again.stdout).not.toContain('✗');
    expect(again.stdout).toContain(`Link ${id}: ACTIVE`);
  });

  it('--timeout ends the wait with exit 5 while the link is still in progress', async () => {
    const r = await cli(
      linkCreate(
        '111111111111/ap-southeast-1/cluster-a/slow/poke',
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--wait',
        '--timeout',
        '1ms',
      ),
    );
    expect(r.code, shown(r)).toBe(5);
    expect(r.stderr).toMatch(
      /^error WAIT_TIMEOUT: still in progress after 0 s: lnk_\S+ \((PENDING|PROVISIONING)\)/,
    );
    const id = /(lnk_[0-9A-Z]{26})/.exec(r.stderr)![1]!;
    expect((await h.settle(id)).status).toBe('ACTIVE');
  });
});

describe('API errors', () => {
  it('CLUSTER_NOT_FOUND and LINK_SPEC_MISMATCH (exit 1)', async () => {
    const [missing, mismatch] = await Promise.all([
      cli(linkCreate(DEMO_SOURCE, '222222222222/ap-southeast-1/nope', '--policy', 'AmazonEKSViewPolicy')),
      cli(linkCreate(DEMO_SOURCE, CLUSTER_B, '--policy', 'AmazonEKSAdminPolicy')),
    ]);
    expect(missing.code, shown(missing)).toBe(1);
    expect(missing.stderr).toMatch(/^error CLUSTER_NOT_FOUND: .*nope/);
    expect(mismatch.code, shown(mismatch)).toBe(1);
    expect(mismatch.stderr).toMatch(/^error LINK_SPEC_MISMATCH: /);
  });
});

describe('callers and approval (--caller names the caller of the local runtime)', () => {
  const DEVELOPER = 'arn:aws:iam::111111111111:role/developer'; // owns the source account
  const CLUSTER_OWNER = 'arn:aws:iam::222222222222:role/cluster-owner'; // owns the target account
  const STRANGER = 'arn:aws:iam::444444444444:role/stranger';
  const adminRequest = (sa: string) =>
    linkCreate(
      `111111111111/ap-southeast-1/cluster-a/approvals/${sa}`,
      CLUSTER_B,
      '--policy',
      'AmazonEKSClusterAdminPolicy',
    );

  it('a request the policies make wait: --wait stops at AWAITING_APPROVAL (exit 6); an approver approves and follows it to ACTIVE', async () => {
    const r = await cli(['--caller', DEVELOPER, ...adminRequest('admin'), '--wait']);
    expect(r.code, shown(r)).toBe(6);
    const id = /(lnk_[0-9A-Z]{26})\s+AWAITING_APPROVAL/.exec(r.stdout)?.[1];
    expect(id, shown(r)).toBeDefined();
    expect(r.stdout).toContain(`waits for an approver`);
    expect(r.stdout).toContain(`tether link approve ${id} --reason`);
    expect(r.stdout).not.toContain('✓'); // nothing ran
    expect(r.stderr).toBe(
      `error AWAITING_APPROVAL: link ${id} waits for an approver; nothing is made until one runs: tether link approve ${id} --reason "…"\n`,
    );

    const wait = await cli(['link', 'wait', id!]);
    expect(wait.code, shown(wait)).toBe(6);
    expect(wait.stderr).toMatch(/^error AWAITING_APPROVAL: /);

    // The requester may not approve their own request: the problem's code and detail, exit 1.
    const self = await cli(['--caller', DEVELOPER, 'link', 'approve', id!, '--reason', 'trust me']);
    expect(self.code, shown(self)).toBe(1);
    expect(self.stderr).toMatch(
      new RegExp(`^error ACCESS_DENIED: ${DEVELOPER} may not ApproveLink on .*no-self-approval`),
    );

    const approved = await cli([
      '--caller',
      CLUSTER_OWNER,
      'link',
      'approve',
      id!,
      '--reason',
      'CHG-42: the platform team needs cluster admin',
      '--wait',
    ]);
    expect(approved.code, shown(approved)).toBe(0);
    expect(approved.stdout).toContain(`Link ${id} approved: PENDING, onboard onboard-${id}-v`);
    expect(approved.stdout).toMatch(/✓ Ensure access entry\s+\d[\d.]* m?s\s+created/);
    expect(approved.stdout).toContain(`Link ${id}: ACTIVE`);
    const runs = JSON.parse((await cli(['link', 'runs', id!, '-o', 'json'])).stdout);
    expect(runs.runs[0]).toMatchObject({ name: expect.stringMatching(`^onboard-${id}-v`) });
  });

  it('reject ends the link REJECTED; link wait says so with exit 3', async () => {
    const r = await cli(['--caller', DEVELOPER, ...adminRequest('rejected')]);
    expect(r.code, shown(r)).toBe(0);
    const id = /(lnk_[0-9A-Z]{26})\s+AWAITING_APPROVAL/.exec(r.stdout)![1]!;
    const rejected = await cli([
      '--caller',
      CLUSTER_OWNER,
      'link',
      'reject',
      id,
      '--reason',
      'use AmazonEKSEditPolicy on a namespace',
    ]);
    expect(rejected.code, shown(rejected)).toBe(0);
    expect(rejected.stdout).toBe(`Link ${id} rejected: REJECTED. Nothing was made.\n`);
    const again = await cli(['--caller', CLUSTER_OWNER, 'link', 'approve', id, '--reason', 'oops']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error NOT_AWAITING_APPROVAL: /);
    const wait = await cli(['link', 'wait', id]);
    expect(wait.code, shown(wait)).toBe(3);
    expect(wait.stderr).toMatch(new RegExp(`^error LINK_REJECTED: link ${id} is REJECTED`));
  });

  it('a caller no policy allows: 403 ACCESS_DENIED with its detail, exit 1, nothing made', async () => {
    const r = await cli([
      '--caller',
      STRANGER,
      ...linkCreate(
        '111111111111/ap-southeast-1/cluster-a/approvals/stranger',
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
      ),
    ]);
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^error ACCESS_DENIED: ${STRANGER} may not CreateLink on .*: no policy permits it\\n$`),
    );
    const list = await cli([
      'link',
      'list',
      '--namespace',
      'approvals',
      '--service-account',
      'stranger',
      '-o',
      'json',
    ]);
    expect(JSON.parse(list.stdout).items).toEqual([]);
    // Nor may the stranger read a link of others.
    const get = await cli(['--caller', STRANGER, 'link', 'get', demoId]);
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/^error ACCESS_DENIED: /);
  });
});

describe('plan before change: quotas with their figures (tether plan), and POST /links refusing a failed one', () => {
  it('tether plan shows each quota; a target security group without room makes link create exit 1 with QUOTA_EXCEEDED, nothing made', async () => {
    // Arrange: a target cluster whose security group has 58 inbound rules; the link asks for 3
    // private CIDRs, which take effect there (the private endpoint).
    const sandbox = h.rt.sandbox;
    sandbox.addAccount('444444444410');
    const ids = sandbox.addEksCluster({
      accountId: '444444444410',
      region: 'ap-southeast-1',
      name: 'cluster-full',
      authenticationMode: 'API',
    });
    const { ec2 } = clientsFor(sandbox, sandbox.rootCredentials('444444444410'));
    const present = Object.values(
      sandbox.state().accounts['444444444410']!.regions['ap-southeast-1']!.ec2.securityGroupRules,
    ).filter((r) => r.GroupId === ids.clusterSecurityGroupId && !r.IsEgress).length;
    for (let i = present; i < 58; i++) {
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: ids.clusterSecurityGroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: `10.8.${i}.0/24` }] },
          ],
        }),
      );
    }
    const request = [
      '--source',
      '111111111111/ap-southeast-1/cluster-a/quotas/full',
      '--target',
      '444444444410/ap-southeast-1/cluster-full',
      '--policy',
      'AmazonEKSViewPolicy',
      '--cidr',
      '10.200.0.0/24',
      '--cidr',
      '10.200.1.0/24',
      '--cidr',
      '10.200.2.0/24',
    ];

    // Act
    sandbox.resetCalls();
    const plan = await cli(['plan', ...request]);
    const planMutations = sandbox.calls().filter((c) => c.mutating).length;
    const create = await cli(['link', 'create', ...request, '--wait']);

    // Assert
    expect(plan.code, shown(plan)).toBe(0);
    // Explicit CIDRs wait for an approver under the default policies.
    expect(plan.stdout).toMatch(/authorization:\s+needs-approval/);
    expect(plan.stdout).toMatch(/✓\s+roles\s+account 444444444410\s+\d+\s+\d+\s+1000/);
    expect(plan.stdout).toMatch(
      /✓\s+trust-policy-size\s+arn:aws:iam::444444444410:role\/tether\/\S+\s+0\s+\d+\s+2048/,
    );
    expect(plan.stdout).toMatch(
      new RegExp(`✗\\s+security-group-inbound-rules\\s+${ids.clusterSecurityGroupId}\\s+58\\s+61\\s+60`),
    );
    expect(planMutations).toBe(0);
    expect(create.code, shown(create)).toBe(1);
    expect(create.stderr).toMatch(
      /^error QUOTA_EXCEEDED: 444444444410\/ap-southeast-1\/cluster-full: security-group-inbound-rules: /,
    );
    expect(create.stderr).toContain(
      `  cluster-full: security-group-inbound-rules on ${ids.clusterSecurityGroupId} (58 now, 61 after, limit 60)`,
    );
    const list = await cli(['link', 'list', '--namespace', 'quotas', '-o', 'json']);
    expect(JSON.parse(list.stdout).items).toEqual([]);
  });

  it('tether plan shows the authorization decision: needs approval for cluster admin', async () => {
    const r = await cli([
      '--caller',
      'arn:aws:iam::111111111111:role/developer',
      'plan',
      '--source',
      '111111111111/ap-southeast-1/cluster-a/quotas/admin',
      '--target',
      CLUSTER_B,
      '--policy',
      'AmazonEKSClusterAdminPolicy',
    ]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toMatch(
      /authorization:\s+needs-approval: the policies allow this link once an approver approves it/,
    );
  });
});

describe('link runs: each state with its timestamps, retries and errors', () => {
  it('shows a throttled step failing once, retried, then exited, from the execution history', async () => {
    // Arrange: EKS throttles the first CreateAccessEntry of a new link.
    h.rt.sandbox.injectFault({
      service: 'eks',
      operation: 'CreateAccessEntry',
      accountId: '222222222222',
      code: 'ThrottlingException',
      times: 1,
    });
    const created = await cli(
      linkCreate(
        '111111111111/ap-southeast-1/cluster-a/runs/throttled',
        CLUSTER_B,
        '--policy',
        'AmazonEKSViewPolicy',
        '--wait',
      ),
    );
    expect(created.code, shown(created)).toBe(0);
    const id = /Link (lnk_[0-9A-Z]{26}): ACTIVE/.exec(created.stdout)![1]!;

    // Act
    const [text, json] = await Promise.all([
      cli(['link', 'runs', id]),
      cli(['link', 'runs', id, '-o', 'json']),
    ]);

    // Assert
    expect(text.code, shown(text)).toBe(0);
    expect(text.stdout).toContain(`Events of onboard-${id}-v1:`);
    expect(text.stdout).toMatch(/\d{2}:\d{2}:\d{2}Z\s+Ensure access entry\s+TaskStateEntered/);
    expect(text.stdout).toMatch(/Ensure access entry\s+TaskFailed\s+ThrottledError: ThrottlingException: /);
    expect(text.stdout).toMatch(/Ensure access entry\s+TaskRetried\s+attempt 2/);
    expect(text.stdout).toMatch(/Ensure access entry\s+TaskStateExited/);
    expect(text.stdout).toMatch(/\d{2}Z\s+ExecutionSucceeded/);
    const events: any[] = JSON.parse(json.stdout).runs[0].events;
    const access = events.filter((e) => e.step === 'Ensure access entry').map((e) => e.type);
    expect(access).toEqual(['TaskStateEntered', 'TaskFailed', 'TaskRetried', 'TaskStateExited']);
    for (const e of events) expect(Number.isNaN(Date.parse(e.timestamp))).toBe(false);
  });
});
