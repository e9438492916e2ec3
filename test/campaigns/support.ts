/**
 * What the crash and concurrency campaigns share: crash triggers (right after or right
 * before the k-th mutating AWS call), the unmanaged look-alikes, and the invariants read
 * back from the sandbox and the table (no orphan, nothing missing, no untagged resource
 * changed, records that match the sandbox).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthorizeSecurityGroupIngressCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateAccessEntryCommand, EKSClient } from '@aws-sdk/client-eks';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Link } from '#link/model';
import {
  issuerHostPath,
  roleArn,
  targetRoleName,
  WORKLOAD_POLICY_NAME,
  workloadKey,
  workloadRoleName,
} from '#link/names';
import {
  CONFIRMED_SK,
  DEFAULT_TABLE_NAME,
  MANAGED_MARKER_SK,
  membership,
  REMOVAL_LOCK_SK,
} from '#store/table';
import { allowancePlan } from '#resources/egress-allowance';
import type { Resolved } from '#resources/resolve';
import { TAG_MANAGED } from '#link/tags';
import { evaluatePolicy, type PolicyDocument, parsePolicy } from '#link/policy/evaluate';
import { TARGET_ROLE_NAME_PREFIX } from '#resources/workload-role';
import type { LocalRuntime } from '#local/runtime';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { type CallRecord, isMutatingOperation, type Sandbox } from '#local/sandbox/index';
import type { Harness } from '../e2e/harness';
import { neededOwners, presentOwners, tetherResources } from '../e2e/invariants';

// ---- temporary data directories -----------------------------------------------------

const dirs = new Set<string>();

/** A new temporary directory, optionally a copy of `from` (a closed runtime's data directory). */
export function tempDir(prefix: string, from?: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tether-${prefix}-`));
  if (from) cpSync(from, dir, { recursive: true });
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export function removeAllDirs(): void {
  for (const dir of [...dirs]) removeDir(dir);
}

// ---- settling as a client ------------------------------------------------------------------------

/**
 * Settles a link as a client would: a link that ended FAILED with CONCURRENT_UPDATE (a
 * removal held a shared resource it joins longer than the ASL's retries waited — the local
 * runtime flattens their backoff to a fixed `retryIntervalMs`) is POSTed again, which
 * re-drives it. Returns the settled link and how many times it was POSTed again.
 */
export async function settleAsClient(
  h: Harness,
  id: string,
  body: unknown,
  maxRetries = 3,
): Promise<{ link: Link; retries: number }> {
  let link: Link = await h.settle(id, 60_000);
  let retries = 0;
  while (link.status === 'FAILED' && link.error?.code === 'CONCURRENT_UPDATE' && retries < maxRetries) {
    retries += 1;
    const again = await h.api('POST', '/links', body);
    const mine = (again.body.links ?? []).find((l: { id: string }) => l.id === id);
    if (!mine?.redriven) throw new Error(`POST did not re-drive ${id}: ${again.status} ${again.text}`);
    link = await h.settle(id, 60_000);
  }
  return { link, retries };
}

// ---- crash triggers -------------------------------------------------------------------

/** Where a campaign kills the process, relative to the mutating AWS calls of the driven run. */
export interface CrashPoint {
  /**
   * `after`: right after call k is applied and saved (k = 0: right after the API answered,
   * before any mutating call). `before`: at the instant call k is issued, so everything the
   * run did up to it (table writes, reads) happened and call k did not.
   */
  readonly when: 'after' | 'before';
  readonly k: number;
}

export const pointName = (p: CrashPoint) =>
  p.when === 'after' && p.k === 0 ? 'right after the API answered' : `right ${p.when} mutating call ${p.k}`;

/** Every crash point of a run of `count` mutating calls: after 0..count, before 1..count. */
export function crashPoints(count: number): CrashPoint[] {
  const after = Array.from({ length: count + 1 }, (_, k) => ({ when: 'after' as const, k }));
  const before = Array.from({ length: count }, (_, i) => ({ when: 'before' as const, k: i + 1 }));
  return [...after, ...before];
}

export interface ArmedCrash {
  /** The call the crash is tied to, once it fired (k = 0 after: a pseudo record). */
  readonly fired: () => string | undefined;
  /** For `after 0`: crash now (call once the API answered). */
  readonly afterResponse: () => void;
}

/**
 * Arms a crash of `rt` at `point`, counting only the mutating calls made from now on.
 *
 * "Right before call k" is not "right after call k-1": between the two the run writes step
 * results to the table and makes read-only calls, so halting inside `onMutatingCall` for
 * n = k-1 would repeat the `after k-1` point exactly. This trigger wraps `Sandbox.invoke`
 * instead and halts when the k-th mutating call is issued: calls issued before it (possibly
 * still queued in the sandbox, like requests already on the wire) are applied; call k and
 * everything after it are not.
 */
export function armCrash(rt: LocalRuntime, point: CrashPoint): ArmedCrash {
  const sb = rt.sandbox;
  let fired: string | undefined;
  const describe = (c: Pick<CallRecord, 'accountId' | 'service' | 'operation'>) =>
    `${c.service}:${c.operation}${c.accountId ? ` in ${c.accountId}` : ''}`;
  if (point.when === 'after' && point.k > 0) {
    let seen = 0;
    sb.onMutatingCall = (_n, call) => {
      seen += 1;
      if (seen === point.k && !fired) {
        fired = describe(call);
        rt.halt();
      }
    };
  } else if (point.when === 'before') {
    const original = sb.invoke.bind(sb);
    let issued = 0;
    sb.invoke = (service, operation, input, ctx) => {
      if (!fired && isMutatingOperation(operation)) {
        issued += 1;
        if (issued === point.k) {
          fired = describe({ accountId: '', service, operation });
          rt.halt();
        }
      }
      if (fired && isMutatingOperation(operation)) {
        return Promise.reject(
          Object.assign(new Error('The local runtime was halted (simulated crash)'), { name: 'Halted' }),
        );
      }
      return original(service, operation, input, ctx);
    };
  }
  return {
    fired: () => fired,
    afterResponse: () => {
      if (point.when === 'after' && point.k === 0 && !fired) {
        fired = 'the API answer';
        rt.halt();
      }
    },
  };
}

/** Counts the mutating calls the sandbox applies from now on, with their names. */
export function recordMutatingCalls(sb: Sandbox): string[] {
  const calls: string[] = [];
  sb.onMutatingCall = (_n, c) => {
    calls.push(`${c.service}:${c.operation}`);
  };
  return calls;
}

// ---- SDK clients acting as a person (not Tether) -----------------------------------------

export function rootClients(sb: Sandbox, accountId: string, region: string) {
  const credentials = sb.rootCredentials(accountId);
  const iam = new IAMClient({ region: 'us-east-1', credentials });
  iam.middlewareStack.use(sandboxPlugin(sb, 'iam', iam.config as never));
  const ec2 = new EC2Client({ region, credentials });
  ec2.middlewareStack.use(sandboxPlugin(sb, 'ec2', ec2.config as never));
  const eks = new EKSClient({ region, credentials });
  eks.middlewareStack.use(sandboxPlugin(sb, 'eks', eks.config as never));
  return {
    iam,
    ec2,
    eks,
    destroy() {
      iam.destroy();
      ec2.destroy();
      eks.destroy();
    },
  };
}

// ---- unmanaged look-alikes ----------------------------------------------------------------

export const LOOKALIKE_ACCOUNT = '222222222222';
export const LOOKALIKE_REGION = 'ap-southeast-1';
export const LOOKALIKE_CLUSTER = 'cluster-b';
export const LOOKALIKE_ROLE_NAME = 'tether-t-cluster-a-kubeai-chatbot-by-hand';
export const LOOKALIKE_CIDR = '10.1.2.3/32';

export interface Lookalikes {
  readonly roleArn: string;
  readonly securityGroupId: string;
  readonly ruleId: string;
}

function clusterState(sb: Sandbox, accountId: string, region: string, name: string) {
  const cluster = sb.state().accounts[accountId]?.regions[region]?.eks.clusters[name];
  if (!cluster) throw new Error(`No cluster ${accountId}/${region}/${name} in the sandbox`);
  return cluster;
}

/**
 * What a person made by hand before Tether came, looking like Tether's: a role in the target
 * account on Tether's path with a Tether-like name, a tcp/443 ingress rule on cluster-b's
 * security group, and an access entry on cluster-b for that role. None carries Tether tags.
 */
export async function placeLookalikes(sb: Sandbox): Promise<Lookalikes> {
  const c = rootClients(sb, LOOKALIKE_ACCOUNT, LOOKALIKE_REGION);
  try {
    const role = await c.iam.send(
      new CreateRoleCommand({
        RoleName: LOOKALIKE_ROLE_NAME,
        Path: '/tether/',
        Description: 'made by hand',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    const securityGroupId = clusterState(
      sb,
      LOOKALIKE_ACCOUNT,
      LOOKALIKE_REGION,
      LOOKALIKE_CLUSTER,
    ).clusterSecurityGroupId;
    const rule = await c.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: securityGroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            IpRanges: [{ CidrIp: LOOKALIKE_CIDR, Description: 'bastion, by hand' }],
          },
        ],
      }),
    );
    const arn = role.Role?.Arn ?? '';
    await c.eks.send(
      new CreateAccessEntryCommand({
        clusterName: LOOKALIKE_CLUSTER,
        principalArn: arn,
        username: 'by-hand',
      }),
    );
    return {
      roleArn: arn,
      securityGroupId,
      ruleId: rule.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? '',
    };
  } finally {
    c.destroy();
  }
}

/** The look-alikes exactly as the sandbox holds them (JSON text; `missing` where absent). */
export function lookalikeSnapshot(sb: Sandbox, l: Lookalikes): Record<string, string> {
  const account = sb.state().accounts[LOOKALIKE_ACCOUNT];
  const region = account?.regions[LOOKALIKE_REGION];
  const cluster = region?.eks.clusters[LOOKALIKE_CLUSTER];
  const text = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
  return {
    role: text(account?.iam.roles[LOOKALIKE_ROLE_NAME.toLowerCase()]),
    rule: text(region?.ec2.securityGroupRules[l.ruleId]),
    accessEntry: text(Object.values(cluster?.accessEntries ?? {}).find((e) => e.principalArn === l.roleArn)),
  };
}

// ---- invariants -------------------------------------------------------------------------------

type Tags = readonly { readonly Key: string; readonly Value: string }[] | undefined;
const managed = (tags: Tags) => tags?.some((t) => t.Key === TAG_MANAGED && t.Value === 'true') ?? false;

/**
 * Every resource Tether did not make, as JSON text by a stable key: roles, OIDC providers,
 * VPCs, subnets, addresses, NAT gateways, security groups, untagged SG rules, prefix lists,
 * clusters (without their access entries and ConfigMaps), untagged access entries,
 * ConfigMaps of clusters Tether reaches through access entries, and buckets.
 */
export function untaggedFingerprint(sb: Sandbox): Map<string, string> {
  const out = new Map<string, string>();
  const put = (key: string, v: unknown) => out.set(key, JSON.stringify(v));
  const tetherCidrs = new Set(
    Object.values(sb.state().accounts).flatMap((a) =>
      Object.values(a.regions).flatMap((r) => Object.values(r.ec2.addresses).map((e) => `${e.PublicIp}/32`)),
    ),
  );
  for (const [id, a] of Object.entries(sb.state().accounts)) {
    for (const [name, r] of Object.entries(a.iam.roles)) if (!managed(r.Tags)) put(`${id}/role/${name}`, r);
    for (const [arn, p] of Object.entries(a.iam.oidcProviders))
      if (!managed(p.Tags)) put(`${id}/oidc/${arn}`, p);
    for (const [name, b] of Object.entries(a.s3.buckets))
      if (!managed(b.Tags ?? [])) put(`${id}/s3/${name}`, b);
    for (const [rn, r] of Object.entries(a.regions)) {
      const e = r.ec2;
      for (const [kind, map] of [
        ['vpc', e.vpcs],
        ['subnet', e.subnets],
        ['address', e.addresses],
        ['nat', e.natGateways],
        ['sg', e.securityGroups],
      ] as const) {
        for (const [k, v] of Object.entries(map)) put(`${id}/${rn}/${kind}/${k}`, v);
      }
      for (const [k, v] of Object.entries(e.securityGroupRules))
        if (!managed(v.Tags)) put(`${id}/${rn}/sgr/${k}`, v);
      for (const [k, v] of Object.entries(e.prefixLists)) if (!managed(v.Tags)) put(`${id}/${rn}/pl/${k}`, v);
      for (const [name, c] of Object.entries(r.eks.clusters)) {
        // The /32s of the sources' addresses in publicAccessCidrs, and the updates that put
        // them there, are Tether's allowance; every other CIDR of the list is someone else's.
        const { accessEntries, configMaps, resourceVersionSeq: _seq, updates: _u, status: _s, ...rest } = c;
        const others = c.publicAccessCidrs.filter((cidr) => !tetherCidrs.has(cidr));
        put(`${id}/${rn}/eks/${name}`, { ...rest, publicAccessCidrs: others });
        for (const [k, v] of Object.entries(accessEntries)) {
          if (v.tags[TAG_MANAGED] !== 'true') put(`${id}/${rn}/eks/${name}/entry/${k}`, v);
        }
        // aws-auth is Tether's to edit only in CONFIG_MAP mode.
        if (c.authenticationMode !== 'CONFIG_MAP') put(`${id}/${rn}/eks/${name}/configmaps`, configMaps);
      }
    }
  }
  return out;
}

/** Keys whose untagged resource differs (changed, appeared or vanished) between two fingerprints. */
export function untaggedChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

/** All links in the table (any status). */
export async function allLinks(rt: LocalRuntime): Promise<Link[]> {
  const items: Link[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await rt.links.list({}, 100, cursor);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

/** Tether resources that no ACTIVE link needs (orphans), and needed ones that are absent. */
export function ownershipDiff(sb: Sandbox, active: readonly Link[]) {
  const present = presentOwners(tetherResources(sb));
  const needed = neededOwners(active);
  return {
    orphans: [...present].filter((o) => !needed.has(o)).sort(),
    missing: [...needed].filter((o) => !present.has(o)).sort(),
  };
}

/** A role ARN as aws-auth spells it: without the role's path. */
export const withoutPath = (arn: string) => arn.replace(/:role\/.*\//, ':role/');

/** What an ACTIVE link's outputs name that the sandbox does not hold (empty = records match). */
export function recordMismatches(sb: Sandbox, link: Link): string[] {
  const state = sb.state();
  const o = link.outputs as Record<string, any>;
  const wrong: string[] = [];
  const role = (arn: unknown) => {
    const account = typeof arn === 'string' ? arn.split(':')[4] : undefined;
    return Object.values(state.accounts[account ?? '']?.iam.roles ?? {}).find((r) => r.Arn === arn);
  };
  const { spec } = link;
  const expectedTarget = roleArn(spec.target.accountId, targetRoleName(spec));
  if (o.targetRoleArn !== expectedTarget) wrong.push(`targetRoleArn ${o.targetRoleArn} ≠ ${expectedTarget}`);
  if (!managed(role(o.targetRoleArn)?.Tags)) wrong.push(`target role ${o.targetRoleArn} absent or unmanaged`);
  const expectedWorkload = roleArn(spec.source.accountId, workloadRoleName(spec.source));
  if (o.workloadRoleArn !== expectedWorkload)
    wrong.push(`workloadRoleArn ${o.workloadRoleArn} ≠ ${expectedWorkload}`);
  if (!managed(role(o.workloadRoleArn)?.Tags))
    wrong.push(`workload role ${o.workloadRoleArn} absent or unmanaged`);
  const provider = state.accounts[spec.source.accountId]?.iam.oidcProviders;
  if (!Object.values(provider ?? {}).some((p) => p.Arn === o.oidcProviderArn && managed(p.Tags)))
    wrong.push(`OIDC provider ${o.oidcProviderArn} absent or unmanaged`);
  const region = state.accounts[spec.target.accountId]?.regions[spec.target.region];
  const cluster = region?.eks.clusters[spec.target.cluster];
  if (o.access?.kind === 'access-entry') {
    const entry = Object.values(cluster?.accessEntries ?? {}).find(
      (e) => e.accessEntryArn === o.access.accessEntryArn,
    );
    if (!entry || entry.principalArn !== o.targetRoleArn || entry.tags[TAG_MANAGED] !== 'true')
      wrong.push(`access entry ${o.access.accessEntryArn} absent or not the target role's`);
  } else {
    // aws-auth names the role without its path.
    const mapRoles = cluster?.configMaps['kube-system/aws-auth']?.data.mapRoles ?? '';
    if (
      o.access?.rolearn !== withoutPath(String(o.targetRoleArn)) ||
      !mapRoles.includes(`rolearn: ${o.access.rolearn}\n`)
    )
      wrong.push(`aws-auth of ${spec.target.cluster} has no entry for ${o.targetRoleArn}`);
  }
  for (const [cidr, ruleId] of Object.entries((o.egress?.ruleIds ?? {}) as Record<string, string>)) {
    const rule = region?.ec2.securityGroupRules[ruleId];
    if (!rule || rule.CidrIpv4 !== cidr || rule.GroupId !== o.egress.securityGroupId || !managed(rule.Tags))
      wrong.push(`SG rule ${ruleId} for ${cidr} absent or not Tether's`);
  }
  if (typeof o.kubeconfig !== 'string' || !o.kubeconfig.includes(expectedTarget))
    wrong.push('kubeconfig missing or not chaining to the target role');
  return wrong;
}

/**
 * Table items that do not match the live links: membership items of links that are not
 * ACTIVE, memberships an ACTIVE link lacks, removal locks still held, natural keys of dead
 * links. Empty = the records match.
 */
export async function tableMismatches(rt: LocalRuntime, links: readonly Link[]): Promise<string[]> {
  const items: Record<string, any>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await rt.clients
      .dynamodb()
      .send(
        new ScanCommand({ TableName: DEFAULT_TABLE_NAME, ConsistentRead: true, ExclusiveStartKey: start }),
      );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const byId = new Map(links.map((l) => [l.id, l]));
  const active = links.filter((l) => l.status === 'ACTIVE');
  const expected = new Set<string>();
  for (const l of active) {
    const resolved = l.outputs.resolved as Resolved;
    const member = membership.link(l.id);
    const { source, target } = l.spec;
    expected.add(`${membership.workload(workloadKey(source))}|${member}`);
    if (resolved.source.issuer)
      expected.add(
        `${membership.issuer(source.accountId, issuerHostPath(resolved.source.issuer))}|${member}`,
      );
    const sg = resolved.target.clusterSecurityGroupId ?? '';
    const plan = allowancePlan(l.spec, resolved);
    for (const cidr of plan.securityGroup)
      expected.add(`${membership.egress(target.accountId, target.region, sg, cidr)}|${member}`);
    for (const cidr of plan.publicAccess)
      expected.add(
        `${membership.publicAccess(target.accountId, target.region, target.cluster, cidr)}|${member}`,
      );
    if (l.spec.network.mode === 'nat')
      expected.add(
        `${membership.sourceVpc(source.accountId, source.region, resolved.source.vpcId)}|${member}`,
      );
  }
  const wrong: string[] = [];
  const present = new Set<string>();
  for (const item of items) {
    const pk = String(item.pk);
    const sk = String(item.sk);
    if (sk === REMOVAL_LOCK_SK) wrong.push(`removal lock still held on ${pk} by ${item.owner}`);
    else if (sk === MANAGED_MARKER_SK) {
      // Tether's mark on a CIDR it put in publicAccessCidrs: only while a live link needs it.
      if (![...expected].some((e) => e.startsWith(`${pk}|`))) wrong.push(`managed marker left on ${pk}`);
    } else if (sk === CONFIRMED_SK) {
      // A run's confirmation of a shared source-side resource: only while a live link shares it.
      if (![...expected].some((e) => e.startsWith(`${pk}|`))) wrong.push(`confirmation left on ${pk}`);
    } else if (/^(WORKLOAD|ISSUER|EGRESS|PUBLICACCESS|SOURCEVPC)#/.test(pk)) {
      present.add(`${pk}|${sk}`);
      if (!expected.has(`${pk}|${sk}`)) {
        const l = byId.get(String(item.linkId));
        wrong.push(`membership ${pk} of ${item.linkId} (${l?.status ?? 'unknown link'})`);
      }
    } else if (sk === 'LINKKEY') {
      const l = byId.get(String(item.linkId));
      if (!l || l.status === 'DELETED')
        wrong.push(`natural key ${item.naturalKey} held by ${item.linkId} (${l?.status})`);
    }
  }
  for (const e of expected) if (!present.has(e)) wrong.push(`missing membership ${e}`);
  return wrong.sort();
}

/**
 * The target roles the workload role's inline policy lets it assume, among every Tether
 * target role in the sandbox, each judged with its tags as IAM puts them in the request
 * (docs/architecture.md#the-workload-roles-permission); undefined when role or policy is
 * absent.
 */
export async function workloadPolicyTargets(
  rt: LocalRuntime,
  source: Link['spec']['source'],
): Promise<string[] | undefined> {
  let doc: PolicyDocument;
  try {
    const out = await rt.clients
      .iam(source.accountId)
      .send(
        new GetRolePolicyCommand({ RoleName: workloadRoleName(source), PolicyName: WORKLOAD_POLICY_NAME }),
      );
    doc = parsePolicy(out.PolicyDocument ?? '{}');
  } catch (err) {
    if ((err as Error).name === 'NoSuchEntityException' || (err as Error).name === 'NoSuchEntity')
      return undefined;
    throw err;
  }
  const allowed: string[] = [];
  for (const account of Object.values(rt.sandbox.state().accounts)) {
    for (const role of Object.values(account.iam.roles)) {
      if (!role.RoleName.startsWith(TARGET_ROLE_NAME_PREFIX)) continue;
      const context = Object.fromEntries(role.Tags.map((t) => [`aws:ResourceTag/${t.Key}`, t.Value]));
      const answer = evaluatePolicy(
        doc,
        { action: 'sts:AssumeRole', resource: role.Arn, context },
        { policyType: 'identity' },
      );
      if (answer.decision === 'Allow') allowed.push(role.Arn);
    }
  }
  return allowed.sort();
}

/** True when every hop of the link's last verify passed. */
export function verifiedOk(link: Link): boolean {
  const hops = (link.steps.verify?.result?.hops ?? []) as { ok: boolean }[];
  return hops.length > 0 && hops.every((h) => h.ok);
}

// ---- a small seeded generator ------------------------------------------------------------

/** mulberry32: a 32-bit seeded PRNG, enough to replay a campaign's choices from its seed. */
export function seededRandom(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => {
      const x = xs[Math.floor(next() * xs.length)];
      if (x === undefined) throw new Error('pick from an empty list');
      return x;
    },
    chance: (p: number) => next() < p,
    /** A non-empty random subset of at most `max` elements (Fisher–Yates, then a random length). */
    subset: <T>(xs: readonly T[], max: number): T[] => {
      const s = [...xs];
      for (let i = s.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [s[i], s[j]] = [s[j] as T, s[i] as T];
      }
      return s.slice(0, Math.max(1, Math.min(max, 1 + Math.floor(next() * s.length))));
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
