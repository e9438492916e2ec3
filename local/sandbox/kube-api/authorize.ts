/**
 * Authorization of an EKS cluster's Kubernetes API for a caller authenticated through an
 * access entry: the entry's access policies, each within its scope.
 *
 * AWS reference: EKS user guide, "Review access policy permissions" (access-policy-permissions):
 * - AmazonEKSClusterAdminPolicy: every verb on every resource and non-resource URL
 *   (`cluster-admin`);
 * - AmazonEKSAdminPolicy: most resources in the scope, Secrets and namespaced Roles and
 *   RoleBindings included (the Kubernetes `admin` user-facing role);
 * - AmazonEKSEditPolicy: create, update and delete most namespaced resources and read
 *   Secrets, but not Roles or RoleBindings (`edit`);
 * - AmazonEKSViewPolicy: `get`, `list`, `watch` on most resources, not Secrets, nor Roles
 *   or RoleBindings (`view`);
 * - AmazonEKSAdminViewPolicy: list and view every resource, Secrets included;
 * - AmazonEKSSecretReaderPolicy: read Secrets.
 * Scope (EKS API reference, AccessScope): `cluster` applies everywhere (as a
 * ClusterRoleBinding); `namespace` only to requests in the listed namespaces (as a
 * RoleBinding in each), so cluster-scoped requests such as listing namespaces are outside it.
 * Every authenticated user may ask who they are and what they may do (`system:basic-user`)
 * and read discovery (`system:discovery`) — Kubernetes RBAC defaults.
 * Kubernetes groups on an entry (or `aws-auth`) authorize through RBAC objects in the
 * cluster; the sandbox's inventory holds none, so groups grant nothing here.
 */
import type { AssociationState } from '#local/sandbox/state';
import { kindOf } from './inventory';

/** A request's attributes, as the API server's authorizer sees them. */
export interface RequestAttributes {
  readonly verb: string;
  /** API group ('' for the core group). */
  readonly group: string;
  /** Plural resource ('' for a non-resource request). */
  readonly resource: string;
  readonly subresource?: string;
  /** '' for cluster-scoped requests and lists across all namespaces. */
  readonly namespace: string;
  readonly name?: string;
  /** Set for non-resource requests (`/version`, `/api`, …). */
  readonly path?: string;
}

const READ = new Set(['get', 'list', 'watch']);
/** Resources the `view`-like policies leave out. */
const RBAC = new Set(['roles', 'rolebindings']);
/** Cluster-scoped resources the namespaced roles read at cluster scope (`view` includes namespaces). */
const CLUSTER_READABLE = new Set(['namespaces']);
const SELF_REVIEWS = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']);

/** Whether `policy` (its short name) allows the request, ignoring scope. */
function policyAllows(policy: string, a: RequestAttributes, clusterScoped: boolean): boolean {
  if (a.path !== undefined) return policy === 'AmazonEKSClusterAdminPolicy';
  const read = READ.has(a.verb);
  const secret = a.group === '' && a.resource === 'secrets';
  const rbac = a.group === 'rbac.authorization.k8s.io' && RBAC.has(a.resource);
  const clusterRbac = a.group === 'rbac.authorization.k8s.io' && !RBAC.has(a.resource);
  switch (policy) {
    case 'AmazonEKSClusterAdminPolicy':
      return true;
    case 'AmazonEKSAdminViewPolicy':
      return read;
    case 'AmazonEKSSecretReaderPolicy':
      return read && secret;
    case 'AmazonEKSViewPolicy':
      if (clusterScoped) return read && CLUSTER_READABLE.has(a.resource);
      return read && !secret && !rbac;
    case 'AmazonEKSEditPolicy':
      if (clusterScoped) return read && CLUSTER_READABLE.has(a.resource);
      return !rbac && !clusterRbac;
    case 'AmazonEKSAdminPolicy':
      if (clusterScoped) return read && CLUSTER_READABLE.has(a.resource);
      return !clusterRbac;
    default:
      return false;
  }
}

/** The namespace a request acts in: a namespace object is in itself (as RBAC sees it). */
function requestNamespace(a: RequestAttributes): string {
  if (a.group === '' && a.resource === 'namespaces' && a.name) return a.name;
  return a.namespace;
}

/** The verdict and, when refused, nothing more than the API server says. */
export interface Decision {
  readonly allowed: boolean;
  /** Which policy allowed it. */
  readonly reason?: string;
}

/** Decides a request of a user whose access entry has `associations`. */
export function authorize(associations: readonly AssociationState[], a: RequestAttributes): Decision {
  if (a.group === 'authorization.k8s.io' && SELF_REVIEWS.has(a.resource) && a.verb === 'create')
    return { allowed: true, reason: 'system:basic-user' };
  if (a.group === 'authentication.k8s.io' && a.resource === 'selfsubjectreviews' && a.verb === 'create')
    return { allowed: true, reason: 'system:basic-user' };
  if (a.path !== undefined && a.verb === 'get' && /^\/(api|apis|version|openapi)(\/|$)/.test(a.path))
    return { allowed: true, reason: 'system:discovery' };
  const namespace = requestNamespace(a);
  // What may be done depends on whether the kind is cluster-scoped (a Namespace object only
  // takes the namespaced roles' reads); whether a namespace scope covers the request depends
  // on the namespace it acts in (a Namespace object lies in itself: a RoleBinding in a
  // namespace covers that Namespace). A list across all namespaces is namespaced but in no
  // one namespace: only a cluster scope covers it.
  const clusterScoped = !(kindOf(a.group, a.resource)?.namespaced ?? true);
  for (const assoc of associations) {
    const policy = assoc.policyArn.split('/').pop() ?? '';
    const inScope =
      assoc.accessScope.type === 'cluster' ||
      (namespace !== '' && (assoc.accessScope.namespaces ?? []).includes(namespace));
    if (!inScope) continue;
    if (policyAllows(policy, a, clusterScoped))
      return { allowed: true, reason: `${policy} (${assoc.accessScope.type} scope)` };
  }
  return { allowed: false };
}

/** The API server's Forbidden message (k8s.io/apiserver, `forbiddenMessage`). */
export function forbiddenMessage(user: string, a: RequestAttributes): string {
  if (a.path !== undefined) return `forbidden: User "${user}" cannot ${a.verb} path "${a.path}"`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const subject = a.name ? `${a.resource} "${a.name}"` : a.resource;
  const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`;
}
