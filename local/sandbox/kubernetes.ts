/**
 * A tiny Kubernetes API for ConfigMaps (enough for `kube-system/aws-auth`), and the
 * caller's own identity as the cluster authenticates it (`WhoAmI`). Not an SDK
 * client: callers use `sandbox.invoke('kubernetes', op, input, ctx)`; the cluster is
 * `input.clusterName` in the caller's account and `ctx.region`. Error codes are the
 * Kubernetes `Status.reason` values (`NotFound`, `AlreadyExists`, `Conflict`).
 */
import { clone, type OpContext, type Operations, requireString } from './context';
import { authenticateToCluster } from './eks';
import { SandboxError } from './errors';
import { type ClusterState, type ConfigMapState, regionOf } from './state';

/** Input of GetConfigMap / DeleteConfigMap. */
export interface ConfigMapRef {
  readonly clusterName: string;
  readonly namespace: string;
  readonly name: string;
}

/** Input of CreateConfigMap; ReplaceConfigMap adds `resourceVersion`. */
export interface ConfigMapWrite extends ConfigMapRef {
  readonly data: Record<string, string>;
  readonly resourceVersion?: string;
}

/** Output of GetConfigMap, CreateConfigMap and ReplaceConfigMap. */
export interface ConfigMapOutput {
  readonly configMap: {
    readonly data: Record<string, string>;
    readonly metadata: {
      readonly name: string;
      readonly namespace: string;
      readonly resourceVersion: string;
    };
  };
}

/** The cluster `name` in `accountId` (default: the caller's account) and the call's region. */
function clusterOf(ctx: OpContext, name: unknown, accountId?: unknown): ClusterState {
  const n = requireString(name, 'clusterName', 'BadRequest');
  const account = typeof accountId === 'string' ? ctx.state.accounts[accountId] : ctx.account;
  const c = account && regionOf(account, ctx.region).eks.clusters[n];
  if (!c)
    throw new SandboxError(
      'ClusterNotFound',
      `No cluster ${n} in ${String(accountId ?? ctx.account.id)}/${ctx.region}`,
      {
        statusCode: 404,
      },
    );
  return c;
}

function key(input: { namespace?: unknown; name?: unknown }): { ns: string; name: string; id: string } {
  const ns = requireString(input.namespace, 'namespace', 'BadRequest');
  const name = requireString(input.name, 'name', 'BadRequest');
  return { ns, name, id: `${ns}/${name}` };
}

function output(cm: ConfigMapState): ConfigMapOutput {
  return {
    configMap: {
      data: clone(cm.data),
      metadata: { name: cm.name, namespace: cm.namespace, resourceVersion: cm.resourceVersion },
    },
  };
}

function dataOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function notFound(name: string): SandboxError {
  return new SandboxError('NotFound', `configmaps "${name}" not found`, { statusCode: 404 });
}

/** Writes a ConfigMap with a fresh resourceVersion (used by the world seeds too). */
export function putConfigMap(
  cluster: ClusterState,
  namespace: string,
  name: string,
  data: Record<string, string>,
): ConfigMapState {
  cluster.resourceVersionSeq += 1;
  const cm = { namespace, name, data: { ...data }, resourceVersion: String(cluster.resourceVersionSeq) };
  cluster.configMaps[`${namespace}/${name}`] = cm;
  return cm;
}

/** The Kubernetes operations the sandbox implements. */
export const kubernetesOperations: Operations = {
  /**
   * Who the cluster takes the caller for: what `kubectl auth whoami` asks (a SelfSubjectReview,
   * authentication.k8s.io/v1), answered as `{ status: { userInfo } }`; `Unauthorized` (401) when
   * no access entry or `aws-auth` mapping lets the caller in (see `authenticateToCluster`).
   * `accountId` names the cluster's account when it is not the caller's (a real client reaches
   * the cluster by its endpoint). Reads only.
   */
  WhoAmI: (ctx, input) => {
    const cluster = clusterOf(ctx, input.clusterName, input.accountId);
    return { status: { userInfo: authenticateToCluster(cluster, ctx.caller) } };
  },

  GetConfigMap: (ctx, input) => {
    const cluster = clusterOf(ctx, input.clusterName);
    const k = key(input);
    const cm = cluster.configMaps[k.id];
    if (!cm) throw notFound(k.name);
    return { ...output(cm) };
  },

  CreateConfigMap: (ctx, input) => {
    const cluster = clusterOf(ctx, input.clusterName);
    const k = key(input);
    if (cluster.configMaps[k.id]) {
      throw new SandboxError('AlreadyExists', `configmaps "${k.name}" already exists`, { statusCode: 409 });
    }
    return { ...output(putConfigMap(cluster, k.ns, k.name, dataOf(input.data))) };
  },

  ReplaceConfigMap: (ctx, input) => {
    const cluster = clusterOf(ctx, input.clusterName);
    const k = key(input);
    const cm = cluster.configMaps[k.id];
    if (!cm) throw notFound(k.name);
    // Optimistic concurrency, as the API server does it with metadata.resourceVersion.
    if (input.resourceVersion !== undefined && String(input.resourceVersion) !== cm.resourceVersion) {
      throw new SandboxError(
        'Conflict',
        `Operation cannot be fulfilled on configmaps "${k.name}": the object has been modified; please apply your changes to the latest version and try again`,
        { statusCode: 409 },
      );
    }
    return { ...output(putConfigMap(cluster, k.ns, k.name, dataOf(input.data))) };
  },

  DeleteConfigMap: (ctx, input) => {
    const cluster = clusterOf(ctx, input.clusterName);
    const k = key(input);
    if (!cluster.configMaps[k.id]) throw notFound(k.name);
    delete cluster.configMaps[k.id];
    return {};
  },
};
