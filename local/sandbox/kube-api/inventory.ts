/**
 * What a sandbox cluster's Kubernetes API holds: a small, fixed inventory derived from the
 * cluster's name (namespaces, a few pods, deployments, services, secrets, config maps —
 * the `aws-auth` ConfigMap is the cluster's real one), enough for `kubectl get` to show
 * something true to the access it was given. Objects created through the API are kept in
 * memory by the server that received them; nothing here is persisted.
 */
import { createHash } from 'node:crypto';
import type { DeepReadonly } from '#local/sandbox/sandbox';
import type { ClusterState } from '#local/sandbox/state';

/** A resource kind the API serves. */
export interface ResourceKind {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** The kinds of the API's discovery documents. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    verbs: RW,
    shortNames: ['ns'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    namespaced: true,
    verbs: RW,
    shortNames: ['po'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'services',
    kind: 'Service',
    namespaced: true,
    verbs: RW,
    shortNames: ['svc'],
  },
  { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true, verbs: RW },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
    verbs: RW,
    shortNames: ['cm'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'serviceaccounts',
    kind: 'ServiceAccount',
    namespaced: true,
    verbs: RW,
    shortNames: ['sa'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'nodes',
    kind: 'Node',
    namespaced: false,
    verbs: RW,
    shortNames: ['no'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    verbs: RW,
    shortNames: ['deploy'],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    verbs: RW,
    shortNames: ['ds'],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'roles',
    kind: 'Role',
    namespaced: true,
    verbs: RW,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
    verbs: RW,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
    verbs: RW,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
    verbs: RW,
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectrulesreviews',
    kind: 'SelfSubjectRulesReview',
    namespaced: false,
    verbs: ['create'],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resource: 'selfsubjectreviews',
    kind: 'SelfSubjectReview',
    namespaced: false,
    verbs: ['create'],
  },
];

/** The kind of `group`/`resource`, if served. */
export function kindOf(group: string, resource: string): ResourceKind | undefined {
  return RESOURCE_KINDS.find((k) => k.group === group && k.resource === resource);
}

/** One object of the inventory. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid: string;
    readonly creationTimestamp: string;
    readonly resourceVersion: string;
    readonly labels?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

/** The namespaces of every sandbox cluster, plus two team namespaces. */
export const SEEDED_NAMESPACES = [
  'default',
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'team-a',
  'team-b',
];

function uidOf(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The seeded objects of `cluster`, by `group/resource`. */
export function seededObjects(cluster: DeepReadonly<ClusterState>): Map<string, KubeObject[]> {
  const created = cluster.createdAt;
  const out = new Map<string, KubeObject[]>();
  const add = (
    group: string,
    resource: string,
    name: string,
    namespace: string | undefined,
    extra: Record<string, unknown> = {},
  ) => {
    const k = kindOf(group, resource);
    if (!k) return;
    const key = `${group}/${resource}`;
    const list = out.get(key) ?? [];
    list.push({
      apiVersion: group ? `${group}/${k.version}` : k.version,
      kind: k.kind,
      metadata: {
        name,
        ...(namespace ? { namespace } : {}),
        uid: uidOf(`${cluster.arn}/${key}/${namespace ?? ''}/${name}`),
        creationTimestamp: created,
        resourceVersion: '1',
      },
      ...extra,
    });
    out.set(key, list);
  };
  for (const ns of SEEDED_NAMESPACES) add('', 'namespaces', ns, undefined, { status: { phase: 'Active' } });
  const h = (s: string) => createHash('sha256').update(`${cluster.arn}/${s}`).digest('hex').slice(0, 5);
  const pod = (ns: string, name: string) =>
    add('', 'pods', name, ns, {
      status: { phase: 'Running', containerStatuses: [{ ready: true, restartCount: 0 }] },
    });
  pod('kube-system', `coredns-${h('coredns')}`);
  pod('kube-system', `aws-node-${h('aws-node')}`);
  pod('kube-system', `kube-proxy-${h('kube-proxy')}`);
  pod('team-a', `web-${h('web')}`);
  pod('team-b', `worker-${h('worker')}`);
  add('apps', 'deployments', 'coredns', 'kube-system');
  add('apps', 'deployments', 'web', 'team-a');
  add('apps', 'deployments', 'worker', 'team-b');
  add('apps', 'daemonsets', 'aws-node', 'kube-system');
  add('', 'services', 'kubernetes', 'default');
  add('', 'services', 'web', 'team-a');
  add('', 'secrets', 'app-credentials', 'default', { type: 'Opaque' });
  add('', 'secrets', 'db-password', 'team-a', { type: 'Opaque' });
  for (const cm of Object.values(cluster.configMaps))
    add('', 'configmaps', cm.name, cm.namespace, { data: { ...cm.data } });
  for (const ns of SEEDED_NAMESPACES) add('', 'serviceaccounts', 'default', ns);
  add('', 'nodes', `ip-10-0-1-10.${cluster.arn.split(':')[3] ?? ''}.compute.internal`, undefined);
  return out;
}
