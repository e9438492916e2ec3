/**
 * What the resource tests share: the narrowest runtime the steps need (the sandbox of AWS
 * accounts under the real SDK clients, and the embedded table; no HTTP API, no workflow
 * engine), link specs of workloads no other test uses, links as the steps see them, the
 * onboard steps in order, and readers of what the sandbox accounts hold.
 */
import { AwsClients } from '#aws/clients';
import { tableStores } from '#functions/runtime';
import type { Link, LinkSpec, WorkloadRef } from '#link/model';
import { startDynamo } from '#local/adapters/dynamodb';
import { sandboxKubernetes } from '#local/adapters/kubernetes';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import { type EksClusterSpec, Sandbox, type ServiceName } from '#local/sandbox/index';
import { accessEntryStep } from '#resources/access-entry';
import type { StepDeps } from '#resources/deps';
import { egressStep } from '#resources/egress-allowance';
import { kubeconfigStep } from '#resources/kubeconfig';
import { oidcProviderStep } from '#resources/oidc-provider';
import { podIdentityAssociationStep } from '#resources/pod-identity';
import { resolveLink } from '#resources/resolve';
import { targetRoleStep } from '#resources/target-role';
import { workloadRoleStep } from '#resources/workload-role';
import { DEFAULT_TABLE_NAME } from '#store/table';
import { clientsFor } from '../local/sandbox/helpers';

export const SOURCE_ACCOUNT = '111111111111';
export const TARGET_ACCOUNT = '222222222222';
export const OTHER_TARGET_ACCOUNT = '333333333333';
export const REGION = 'ap-southeast-1';
export const VIEW_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
export const EDIT_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';
export const DEMO_NAT_CIDRS = ['18.0.35.117/32', '18.0.37.11/32', '18.0.38.139/32'];

/** The deps of the steps, and the sandbox behind them. */
export interface SandboxRuntime {
  readonly sandbox: Sandbox;
  readonly clients: AwsClients;
  readonly runtime: StepDeps;
  close(): Promise<void>;
}

/**
 * The demo world of the sandbox and an embedded table, behind the one client factory as
 * the local runtime assembles them (the hub assumes each account's agent role).
 */
export async function startSandboxRuntime(): Promise<SandboxRuntime> {
  const sandbox = Sandbox.open({ world: 'demo' });
  const dynamo = await startDynamo({ tableName: DEFAULT_TABLE_NAME });
  const clients = new AwsClients({
    hubAccountId: '000000000000',
    hubRegion: REGION,
    dynamoDbEndpoint: dynamo.endpoint,
    hubCredentials: sandbox.hubCredentials(),
    kubernetes: (target, credentials) => sandboxKubernetes(sandbox, target, credentials),
    configureClient: (client, service) => {
      if (service === 'dynamodb' || service === 'sfn') return;
      client.middlewareStack.use(
        sandboxPlugin(
          sandbox,
          service as Exclude<ServiceName, 'kubernetes'>,
          client.config as never,
        ) as never,
      );
    },
  });
  const runtime: StepDeps = { clients, ...tableStores(clients.dynamodb()), now: () => new Date() };
  return {
    sandbox,
    clients,
    runtime,
    async close() {
      clients.destroy();
      await dynamo.close();
    },
  };
}

let counter = 0;

/** A name no other test of this process uses. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A service account in `cluster-a` that no other test uses. */
export function newWorkload(overrides: Partial<WorkloadRef> = {}): WorkloadRef {
  const n = unique('w');
  return {
    accountId: SOURCE_ACCOUNT,
    region: REGION,
    cluster: 'cluster-a',
    namespace: `ns-${n}`,
    serviceAccount: `sa-${n}`,
    ...overrides,
  };
}

/** The spec of a new link: a new workload → cluster-b, view access, NAT egress, irsa. */
export function newSpec(overrides: Partial<LinkSpec> = {}): LinkSpec {
  return {
    source: newWorkload(),
    target: { accountId: TARGET_ACCOUNT, region: REGION, cluster: 'cluster-b' },
    access: { policyArn: VIEW_POLICY, scope: { type: 'cluster' } },
    network: { mode: 'nat' },
    identity: { mode: 'irsa' },
    ...overrides,
  };
}

/** A PROVISIONING link as a step receives it. */
export function linkOf(spec: LinkSpec, outputs: Record<string, unknown> = {}): Link {
  return {
    id: `lnk_${unique('unit')}`,
    requestId: 'req_unit',
    status: 'PROVISIONING',
    version: 1,
    spec,
    steps: {},
    outputs,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** The link with more outputs, as the next step would read it once the last recorded its own. */
export function withOutputs(link: Link, outputs: Record<string, unknown>): Link {
  return { ...link, outputs: { ...link.outputs, ...outputs } };
}

/** A link whose spec has been resolved against the sandbox (the Resolve step's output). */
export async function resolvedLink(deps: Pick<StepDeps, 'clients'>, spec: LinkSpec): Promise<Link> {
  return linkOf(spec, { resolved: await resolveLink(deps.clients, spec) });
}

/** Runs the onboard steps of the source and target sides and the kubeconfig, in order. */
export async function onboard(deps: StepDeps, spec: LinkSpec): Promise<Link> {
  let link = await resolvedLink(deps, spec);
  const steps = [
    oidcProviderStep,
    workloadRoleStep,
    podIdentityAssociationStep,
    targetRoleStep,
    accessEntryStep,
    egressStep,
  ] as const;
  for (const step of steps) {
    const { outputs } = (await step(link, deps)) as { outputs?: Record<string, unknown> };
    link = withOutputs(link, outputs ?? {});
  }
  return withOutputs(link, (await kubeconfigStep(link)).outputs);
}

/**
 * Runs `act` on an empty call log and returns what it answered (or threw) with the mutating
 * calls it made, as `service:Operation` (failed calls included).
 */
export async function observe<T>(
  sandbox: Sandbox,
  act: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; mutations: string[] }> {
  sandbox.resetCalls();
  let value: T | undefined;
  let error: unknown;
  try {
    value = await act();
  } catch (err) {
    error = err;
  }
  const mutations = sandbox
    .calls()
    .filter((c) => c.mutating)
    .map((c) => `${c.service}:${c.operation}`);
  return { ...(error === undefined ? { value: value as T } : { error }), mutations };
}

// ---- what the sandbox accounts hold ---------------------------------------------------------

/** An IAM role as the sandbox keeps it, or undefined. */
export function roleIn(sandbox: Sandbox, accountId: string, name: string) {
  return sandbox.state().accounts[accountId]?.iam.roles[name.toLowerCase()];
}

/** An OIDC provider as the sandbox keeps it, or undefined. */
export function oidcProviderIn(sandbox: Sandbox, accountId: string, arn: string) {
  return sandbox.state().accounts[accountId]?.iam.oidcProviders[arn];
}

/** An EKS cluster as the sandbox keeps it. */
export function clusterIn(sandbox: Sandbox, ref: { accountId: string; region: string; cluster: string }) {
  const cluster = sandbox.state().accounts[ref.accountId]?.regions[ref.region]?.eks.clusters[ref.cluster];
  if (!cluster) throw new Error(`No cluster ${ref.cluster} in ${ref.accountId}/${ref.region}`);
  return cluster;
}

/** The ingress rules of a security group as the sandbox keeps them. */
export function ingressRulesOf(sandbox: Sandbox, accountId: string, region: string, groupId: string) {
  const rules = sandbox.state().accounts[accountId]?.regions[region]?.ec2.securityGroupRules ?? {};
  return Object.values(rules).filter((r) => r.GroupId === groupId && !r.IsEgress);
}

/** Tags as a map. */
export function tagMap(tags: readonly { readonly Key: string; readonly Value: string }[]) {
  return Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
}

/** A policy document as IAM keeps it (JSON text), parsed. */
export const parsed = (document: string | undefined) => JSON.parse(document ?? 'null');

// ---- the world outside Tether --------------------------------------------------------------

/** SDK clients acting as an account's root user: someone other than Tether. */
export function rootClients(sandbox: Sandbox, accountId: string, region = REGION) {
  return clientsFor(sandbox, sandbox.rootCredentials(accountId), region);
}

/** A new EKS cluster (with its VPC, security group, NAT gateways and OIDC issuer). */
export function newCluster(
  sandbox: Sandbox,
  overrides: Partial<EksClusterSpec> & Pick<EksClusterSpec, 'accountId'>,
) {
  const ids = sandbox.addEksCluster({
    region: REGION,
    name: unique('cluster'),
    authenticationMode: 'API_AND_CONFIG_MAP',
    ...overrides,
  });
  return { ids, ref: { accountId: ids.accountId, region: ids.region, cluster: ids.name } };
}
