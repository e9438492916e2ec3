/**
 * `PUT`, `GET` and `DELETE /clusters/{accountId}/{region}/{name}`: self-managed clusters
 * whose OIDC discovery Tether publishes (`#resources/self-managed-cluster`). Authorized by
 * the policies like the links (actions `RegisterCluster`, `ReadCluster`,
 * `DeregisterCluster`; by default the account's owners and Tether's operators): the keys of a
 * cluster decide who may assume the roles that trust its issuer, so registering them is a
 * privilege decision. A refused or invalid request changes nothing.
 */
import type { TetherRuntime } from '#functions/runtime';
import type { Caller } from '#link/caller';
import { isAwsError } from '#aws/errors';
import {
  AccountNotReachableError,
  ClusterNotFoundError,
  PartitionUnsupportedError,
  UnsupportedClusterError,
} from '#link/errors';
import type { ClusterRef } from '#link/model';
import { partitionOf, SUPPORTED_PARTITION } from '#link/regions';
import { JWKS_PATH } from '#resources/oidc-discovery';
import {
  type ClusterRegistration,
  checkRegistration,
  issuerUsers,
  publishingOf,
  registerCluster,
  unpublishCluster,
} from '#resources/self-managed-cluster';
import type { SelfManagedCluster } from '#store/clusters';
import { describeCluster } from '#resources/resolve';
import { accessControl, apiSession } from './access';
import type { ClusterAction } from './authorization';
import type { ApiResult } from './operations';
import { ApiError } from './problems';

/** The cluster a request's path names. */
export function clusterOfPath(params: Record<string, string | undefined>): ClusterRef {
  return { accountId: params.accountId ?? '', region: params.region ?? '', cluster: params.name ?? '' };
}

const clusterId = (ref: ClusterRef) => `${ref.accountId}/${ref.region}/${ref.cluster}`;

/** Throws ACCESS_DENIED (403) unless the policies allow the caller this action on the cluster. */
export function authorizeOnCluster(
  rt: TetherRuntime,
  caller: Caller,
  action: ClusterAction,
  cluster: ClusterRef,
): void {
  const decision = accessControl(rt).policies.decideOnCluster({ caller, action, cluster });
  if (decision.allowed) return;
  const why = decision.policies.length
    ? `forbidden by policy ${decision.policies.join(', ')}`
    : 'no policy permits it';
  throw new ApiError(
    'ACCESS_DENIED',
    `${caller.arn} may not ${action} on self-managed cluster ${clusterId(cluster)}: ${why}`,
    {
      extensions: {
        action,
        resource: clusterId(cluster),
        ...(decision.policies.length ? { policies: decision.policies } : {}),
      },
    },
  );
}

function assertPartition(ref: ClusterRef): void {
  const partition = partitionOf(ref.region);
  if (partition !== undefined && partition !== SUPPORTED_PARTITION) {
    const message = `${ref.region} is in the ${partition} partition; Tether works in the ${SUPPORTED_PARTITION} partition only`;
    throw new PartitionUnsupportedError(message, [{ path: 'region', message }]);
  }
}

/**
 * An EKS cluster of that name needs no registration (EKS serves its issuer): registering one
 * would replace its issuer with Tether's for every later link. Refused with
 * UNSUPPORTED_CLUSTER; an account Tether cannot read is ACCOUNT_NOT_REACHABLE.
 */
async function assertNotEks(rt: TetherRuntime, ref: ClusterRef): Promise<void> {
  try {
    await describeCluster(rt.clients.eks(ref.accountId, ref.region), ref);
  } catch (err) {
    if (err instanceof ClusterNotFoundError) return;
    if (isAwsError(err, 'AccessDenied', 'AccessDeniedException')) {
      throw new AccountNotReachableError(`Tether may not read account ${ref.accountId}`, { cause: err });
    }
    throw err;
  }
  throw new UnsupportedClusterError(
    `${clusterId(ref)} is an EKS cluster: EKS serves its OIDC issuer, so it needs no registration`,
  );
}

function present(cluster: SelfManagedCluster, links: number, extra: Record<string, unknown> = {}) {
  const { version: _v, ...rest } = cluster;
  return { ...rest, jwksUri: `${cluster.issuer}/${JWKS_PATH}`, links, ...extra };
}

/** `PUT /clusters/{accountId}/{region}/{name}`: 201 when new, 200 when updated (rotation). */
export async function putCluster(
  rt: TetherRuntime,
  ref: ClusterRef,
  body: ClusterRegistration,
  caller: Caller,
): Promise<ApiResult> {
  assertPartition(ref);
  // The body first: bad input is refused before any account is read.
  await checkRegistration(publishingOf(rt), ref, body);
  await assertNotEks(apiSession(rt, caller), ref);
  const registered = await registerCluster(rt, ref, body, caller.arn);
  const links = await issuerUsers(rt, registered.cluster);
  return {
    statusCode: registered.created ? 201 : 200,
    headers: { location: `/clusters/${clusterId(ref)}` },
    body: present(
      registered.cluster,
      links,
      registered.published
        ? {
            published: {
              action: registered.published.action,
              kids: registered.published.kids,
              retiredKids: registered.published.retiredKids,
            },
          }
        : {},
    ),
  };
}

async function found(rt: TetherRuntime, ref: ClusterRef): Promise<SelfManagedCluster> {
  const cluster = await rt.clusters?.get(ref);
  if (!cluster) {
    throw new ApiError('CLUSTER_NOT_REGISTERED', `No self-managed cluster ${clusterId(ref)} is registered`);
  }
  return cluster;
}

/** `GET /clusters/{accountId}/{region}/{name}`. */
export async function getCluster(rt: TetherRuntime, ref: ClusterRef): Promise<ApiResult> {
  const cluster = await found(rt, ref);
  return { statusCode: 200, body: present(cluster, await issuerUsers(rt, cluster)) };
}

/** `DELETE /clusters/{accountId}/{region}/{name}`: refused while links use the cluster. */
export async function deleteCluster(rt: TetherRuntime, ref: ClusterRef): Promise<ApiResult> {
  const cluster = await found(rt, ref);
  const links = await issuerUsers(rt, cluster);
  if (links > 0) {
    throw new ApiError(
      'CLUSTER_IN_USE',
      `${links} link(s) use self-managed cluster ${clusterId(ref)}: delete them first (its documents go with the last)`,
      { extensions: { links } },
    );
  }
  await rt.clusters?.delete(cluster);
  // Nothing should be left published once the last link went; make sure of it.
  if (rt.oidcPublishing) await unpublishCluster(rt, cluster.issuer);
  return { statusCode: 204 };
}
