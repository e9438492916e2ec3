/**
 * Self-managed clusters (the self-managed OIDC runbook, docs/runbooks.md;
 * docs/architecture.md#oidc-publishing-for-self-managed-clusters): a cluster that is not EKS (k3s, on-premises) is
 * registered with its JWKS (`PUT /clusters/{accountId}/{region}/{name}`). Tether serves its
 * issuer from its own OIDC bucket (`./oidc-discovery`): the issuer is
 * `https://<bucket>.s3.<region>.amazonaws.com/<account>/<region>/<name>`, which the cluster's
 * API server must use as `--service-account-issuer`. The documents are published with the
 * issuer's first link (the "Ensure OIDC provider" step) and removed with its last
 * ("Release OIDC provider"), under the issuer's membership, the same one the OIDC provider
 * uses. A registration with new keys while links use the issuer (key rotation) republishes at
 * once, keeping the dropped keys until no token they signed can still be valid.
 *
 * Such a cluster has no VPC in AWS: its egress IPs are given explicitly (network `cidrs`), or
 * there is none (`none`); `nat` is refused.
 */
import type { ClusterRef } from '#link/model';
import { InvalidRequestError, UnsupportedClusterError } from '#link/errors';
import { issuerHostPath } from '#link/names';
import type { SelfManagedCluster } from '#store/clusters';
import { membership } from '#store/table';
import type { OidcPublishing, StepDeps } from './deps';
import {
  discoveryIssuer,
  issuerProblems,
  JWKS_PATH,
  publishDiscovery,
  unpublishDiscovery,
  validateJwks,
} from './oidc-discovery';

/** The body of `PUT /clusters/{accountId}/{region}/{name}`. */
export interface ClusterRegistration {
  /** The issuer: must be the one Tether serves for the cluster (the default). */
  readonly issuer?: string;
  /** The cluster's JWKS (`kubectl get --raw /openid/v1/jwks`): public keys only. */
  readonly jwks: unknown;
  /** The cluster's own discovery document (`/.well-known/openid-configuration`), checked against what Tether serves. */
  readonly openidConfiguration?: Record<string, unknown>;
}

/** The publishing configuration, or a clear error where there is none. */
export function publishingOf(deps: Pick<StepDeps, 'oidcPublishing'>): OidcPublishing {
  if (!deps.oidcPublishing) {
    throw new UnsupportedClusterError(
      'Tether has no OIDC bucket configured (TETHER_OIDC_BUCKET): self-managed clusters cannot be served',
    );
  }
  return deps.oidcPublishing;
}

/** The issuer Tether serves for a cluster. */
export function servedIssuer(publishing: OidcPublishing, ref: ClusterRef): string {
  return discoveryIssuer(publishing.bucket, publishing.region, ref);
}

/** The membership of an issuer (its links): the same as the OIDC provider's. */
const issuerMembership = (ref: ClusterRef, issuer: string) =>
  membership.issuer(ref.accountId, issuerHostPath(issuer));

/**
 * Checks a registration and returns what the table keeps: a bad issuer (not https, not the
 * URL Tether serves), a bad JWKS (a private key, no `kid`, not RSA or EC) or a discovery
 * document that disagrees is an {@link InvalidRequestError} naming each field; nothing is
 * stored, and the key material is never in the message.
 */
export async function checkRegistration(
  publishing: OidcPublishing,
  ref: ClusterRef,
  body: ClusterRegistration,
): Promise<{ issuer: string; keys: Awaited<ReturnType<typeof validateJwks>> }> {
  const served = servedIssuer(publishing, ref);
  const issuer = body.issuer ?? served;
  const problems = issuerProblems(issuer, publishing.bucket, publishing.region, '/issuer');
  if (problems.length === 0 && issuer !== served) {
    problems.push({
      path: '/issuer',
      message: `${issuer} is not the issuer Tether serves for ${ref.accountId}/${ref.region}/${ref.cluster}: it must be ${served}`,
    });
  }
  // The JWKS is checked even when the issuer is wrong, so one answer names every problem.
  let keys: Awaited<ReturnType<typeof validateJwks>> = [];
  try {
    keys = await validateJwks(body.jwks, '/jwks');
  } catch (err) {
    if (!(err instanceof InvalidRequestError)) throw err;
    problems.push(...err.errors);
  }
  const doc = body.openidConfiguration;
  if (doc !== undefined) {
    if (doc.issuer !== served) {
      problems.push({
        path: '/openidConfiguration/issuer',
        message: `is ${String(doc.issuer)}; the cluster's issuer must be ${served}, the URL Tether serves`,
      });
    }
    if (doc.jwks_uri !== undefined && doc.jwks_uri !== `${served}/${JWKS_PATH}`) {
      problems.push({
        path: '/openidConfiguration/jwks_uri',
        message: `is ${String(doc.jwks_uri)}; Tether serves the JWKS at ${served}/${JWKS_PATH}`,
      });
    }
  }
  if (problems.length) {
    throw new InvalidRequestError(
      `The registration is refused: ${problems[0]?.path} ${problems[0]?.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      problems,
    );
  }
  return { issuer, keys };
}

/** What a registration did. */
export interface Registered {
  readonly cluster: SelfManagedCluster;
  readonly created: boolean;
  /** The publication, when links use the issuer (rotation republishes at once). */
  readonly published?: Awaited<ReturnType<typeof publishDiscovery>>;
}

/**
 * Registers (or re-registers, rotating its keys) a self-managed cluster. Checks first
 * ({@link checkRegistration}); writes the registration; republishes when links use the issuer.
 */
export async function registerCluster(
  deps: Pick<StepDeps, 'clients' | 'clusters' | 'memberships' | 'oidcPublishing' | 'now'>,
  ref: ClusterRef,
  body: ClusterRegistration,
  updatedBy?: string,
): Promise<Registered> {
  const publishing = publishingOf(deps);
  const { issuer, keys } = await checkRegistration(publishing, ref, body);
  const store = clusterStoreOf(deps);
  const now = deps.now().toISOString();
  let cluster: SelfManagedCluster | undefined;
  let created = false;
  // Read, write over the version read; a concurrent registration makes us read again.
  for (let attempt = 0; !cluster; attempt += 1) {
    const existing = await store.get(ref);
    try {
      cluster = await store.put(
        {
          accountId: ref.accountId,
          region: ref.region,
          cluster: ref.cluster,
          kind: 'self-managed',
          issuer,
          keys,
          registeredAt: existing?.registeredAt ?? now,
          updatedAt: now,
          ...(updatedBy ? { updatedBy } : {}),
        },
        existing?.version ?? 0,
      );
      created = !existing;
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
  // Written, then the members read (the step joins, then reads the registration): at least
  // one of the two sees the other, so the new keys are published by one of them.
  const users = await deps.memberships.members(issuerMembership(ref, issuer));
  if (users.length === 0) return { cluster, created };
  const published = await publishLatest(deps, publishing, ref);
  return { cluster, created, published };
}

/**
 * Publishes the keys registered now, and again while the registration changed meanwhile (a
 * concurrent rotation, or an onboard that read an older one), so the last write is always
 * the latest registration's.
 */
async function publishLatest(
  deps: Pick<StepDeps, 'clients' | 'clusters' | 'now'>,
  publishing: OidcPublishing,
  ref: ClusterRef,
) {
  const store = clusterStoreOf(deps);
  let cluster = await store.get(ref);
  for (let attempt = 0; ; attempt += 1) {
    if (!cluster) {
      throw new UnsupportedClusterError(
        `Cluster ${ref.accountId}/${ref.region}/${ref.cluster} is no longer registered as self-managed: register it again (PUT /clusters/${ref.accountId}/${ref.region}/${ref.cluster})`,
      );
    }
    const published = await publishDiscovery(discoveryDepsOf(deps, publishing), cluster.issuer, {
      keys: cluster.keys,
    });
    const now = await store.get(ref);
    if (now?.version === cluster.version || attempt >= 4) return published;
    cluster = now;
  }
}

/** Whether links use the cluster's issuer (its documents are published). */
export async function issuerUsers(deps: Pick<StepDeps, 'memberships'>, cluster: SelfManagedCluster) {
  return (await deps.memberships.members(issuerMembership(cluster, cluster.issuer))).length;
}

function clusterStoreOf(deps: Pick<StepDeps, 'clusters'>) {
  if (!deps.clusters) throw new Error('The runtime has no cluster store');
  return deps.clusters;
}

function discoveryDepsOf(deps: Pick<StepDeps, 'clients' | 'now'>, publishing: OidcPublishing) {
  return {
    s3: deps.clients.hubS3(publishing.region),
    bucket: publishing.bucket,
    bucketRegion: publishing.region,
    fetchPublic: publishing.fetchPublic,
    now: deps.now,
    ...(publishing.retainRetiredKeysSeconds !== undefined
      ? { retainRetiredKeysSeconds: publishing.retainRetiredKeysSeconds }
      : {}),
  };
}

/**
 * Publishes a registered cluster's documents (the onboard's "Ensure OIDC provider", before the
 * provider: IAM reads the issuer when the provider is made). Writes only what differs.
 */
export async function publishCluster(
  deps: Pick<StepDeps, 'clients' | 'clusters' | 'oidcPublishing' | 'now'>,
  ref: ClusterRef,
) {
  return publishLatest(deps, publishingOf(deps), ref);
}

/** Removes an issuer's published documents (with the issuer's last link, or a deregistration). */
export async function unpublishCluster(deps: Pick<StepDeps, 'clients' | 'oidcPublishing'>, issuer: string) {
  const publishing = publishingOf(deps);
  return unpublishDiscovery(
    { s3: deps.clients.hubS3(publishing.region), bucket: publishing.bucket, bucketRegion: publishing.region },
    issuer,
  );
}

/** What the OIDC provider steps publish and remove with (`./oidc-provider`). */
export const DISCOVERY_PUBLISHER = {
  publish: publishCluster,
  unpublish: unpublishCluster,
} as const;
