/**
 * OIDC provider (source account): the IAM identity provider for the source cluster's issuer,
 * shared by every workload of the cluster (membership `ISSUER#…`). An existing provider for
 * the issuer that Tether did not make (eksctl makes one per cluster) is used as it is and
 * never changed or deleted, provided it trusts the `sts.amazonaws.com` audience.
 *
 * The provider is account-wide: by the time the issuer's last link goes, roles Tether did
 * not make may trust it. Deleting a provider leaves those roles' trust as it is and breaks
 * them (IAM API reference, DeleteOpenIDConnectProvider; docs/aws-facts.md#oidc-providers-are-shared),
 * so Tether's provider is kept while any role of the account trusts it.
 */
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  type IAMClient,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { ConflictUnmanagedResourceError, QuotaExceededError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { ClusterRef, Link } from '#link/model';
import { parsePolicy } from '#link/policy/evaluate';
import { issuerHostPath, oidcProviderArn, owners } from '#link/names';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { joinShared, leaveShared } from '#store/memberships';
import { confirmationOf, desiredDigest, leftToVerify } from './source-side';
import { isManaged, isOwnedBy, ownershipTags } from '#link/tags';
import { resolvedOf } from './resolve';
import { releaseTrustAnchorStep, trustAnchorStep } from './roles-anywhere';

/**
 * How a self-managed issuer's documents are published and removed
 * (`./self-managed-cluster`): given by the two step handlers, so that only their bundles
 * carry the S3 client (this module is imported by many others for {@link STS_AUDIENCE}).
 */
export interface DiscoveryPublisher {
  publish(
    deps: StepDeps,
    ref: ClusterRef,
  ): Promise<{
    action: string;
    jwksUri: string;
    kids: readonly (string | undefined)[];
    retiredKids: readonly string[];
  }>;
  unpublish(deps: StepDeps, issuer: string): Promise<{ action: string }>;
}

function publisherOf(publisher: DiscoveryPublisher | undefined): DiscoveryPublisher {
  if (!publisher)
    throw new Error('A self-managed source needs the discovery publisher (the step handler gives it)');
  return publisher;
}

export const STS_AUDIENCE = 'sts.amazonaws.com';

export interface EnsuredOidcProvider {
  readonly arn: string;
  readonly issuer: string;
  readonly action: 'created' | 'updated' | 'unchanged' | 'uses-existing-unmanaged';
}

async function findProvider(iam: IAMClient, arn: string) {
  try {
    return await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity')) return undefined;
    throw err;
  }
}

/** Makes sure the source account trusts the issuer, for `sts.amazonaws.com`. */
export async function ensureOidcProvider(
  iam: IAMClient,
  accountId: string,
  issuer: string,
): Promise<EnsuredOidcProvider> {
  const arn = oidcProviderArn(accountId, issuer);
  const owner = owners.issuer(issuer);
  let existing = await findProvider(iam, arn);
  if (!existing) {
    try {
      await iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: issuer,
          ClientIDList: [STS_AUDIENCE],
          Tags: ownershipTags(owner),
        }),
      );
      return { arn, issuer, action: 'created' };
    } catch (err) {
      if (isAwsError(err, 'LimitExceeded'))
        throw new QuotaExceededError((err as Error).message, { cause: err });
      if (!isAwsError(err, 'EntityAlreadyExists')) throw err;
      existing = await findProvider(iam, arn);
      if (!existing) throw err;
    }
  }
  const audiences = existing.ClientIDList ?? [];
  if (!isManaged(existing.Tags)) {
    if (!audiences.includes(STS_AUDIENCE)) {
      throw new ConflictUnmanagedResourceError(
        arn,
        `OIDC provider ${arn} exists, was not made by Tether, and does not list the audience ${STS_AUDIENCE}; Tether will not change it`,
      );
    }
    return { arn, issuer, action: 'uses-existing-unmanaged' };
  }
  if (!audiences.includes(STS_AUDIENCE)) {
    await iam.send(
      new AddClientIDToOpenIDConnectProviderCommand({
        OpenIDConnectProviderArn: arn,
        ClientID: STS_AUDIENCE,
      }),
    );
    return { arn, issuer, action: 'updated' };
  }
  return { arn, issuer, action: 'unchanged' };
}

/**
 * The onboard step: join the issuer's membership (one member per link, so the provider goes
 * with the issuer's last link, whatever workload it belongs to), then ensure the provider.
 */
export async function oidcProviderStep(
  link: Link,
  deps: StepDeps,
  publisher?: DiscoveryPublisher,
  event?: { readonly confirm?: boolean },
) {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'principal') {
    // The source is an existing role: no web identity, so no provider (docs/architecture.md#identity-modes).
    return { result: { action: 'not-needed', reason: 'mode principal: the source is an existing IAM role' } };
  }
  // No web identity either: the cluster's CA is the source's proof, as a trust anchor.
  if (link.spec.identity.mode === 'roles-anywhere') return trustAnchorStep(link, deps);
  if (link.spec.identity.mode === 'pod-identity') {
    // EKS Pod Identity assumes the role as pods.eks.amazonaws.com: no web identity, no provider.
    return {
      result: { action: 'not-needed', reason: 'mode pod-identity: EKS Pod Identity needs no OIDC provider' },
    };
  }
  const issuer = resolvedOf(link).source.issuer;
  if (!issuer) throw new Error('irsa link without an issuer: resolve should have refused it');
  const resource = membership.issuer(source.accountId, issuerHostPath(issuer));
  await joinShared(
    deps.memberships,
    resource,
    membership.link(link.id),
    { linkId: link.id },
    deps.now().getTime(),
  );
  const selfManaged = resolvedOf(link).source.kind === 'self-managed';
  // An EKS issuer's provider another run has confirmed: this run's verify reads it back
  // (#resources/source-side). A self-managed issuer's documents are always published again.
  const arn = oidcProviderArn(source.accountId, issuer);
  const confirmation = selfManaged
    ? undefined
    : await confirmationOf(
        deps.memberships,
        resource,
        desiredDigest({ provider: arn, audience: STS_AUDIENCE }),
        link,
        event,
      );
  if (confirmation?.leaveToVerify)
    return { result: leftToVerify(confirmation.leaveToVerify, arn), outputs: { oidcProviderArn: arn } };
  // A self-managed cluster's issuer is served by Tether: its documents are published first,
  // as IAM reads the issuer when it trusts it, and STS when it verifies a token.
  const published = selfManaged ? await publisherOf(publisher).publish(deps, source) : undefined;
  const provider = await ensureOidcProvider(deps.clients.iam(source.accountId), source.accountId, issuer);
  await confirmation?.record(deps.now());
  return {
    result: {
      ...provider,
      ...(published
        ? {
            discovery: {
              action: published.action,
              jwksUri: published.jwksUri,
              kids: published.kids,
              retiredKids: published.retiredKids,
            },
          }
        : {}),
    },
    outputs: { oidcProviderArn: provider.arn },
  };
}

/** Whether a trust policy lets the provider's web identities in: an Allow naming it as a Federated principal. */
function trustsProvider(document: string | undefined, providerArn: string): boolean {
  if (!document) return false;
  let statements: unknown;
  try {
    statements = parsePolicy(document).Statement;
  } catch {
    return true; // a trust Tether cannot read might name it: keep the provider
  }
  return (Array.isArray(statements) ? statements : [statements]).some((st) => {
    const { Effect, Principal } = (st ?? {}) as { Effect?: string; Principal?: unknown };
    if (Effect !== 'Allow' || typeof Principal !== 'object' || Principal === null) return false;
    const federated = (Principal as { Federated?: unknown }).Federated;
    return (Array.isArray(federated) ? federated : [federated]).includes(providerArn);
  });
}

/**
 * The names of the account's roles whose trust lets the provider in. ListRoles carries each
 * role's trust policy (URL-encoded), so one paginated listing reads them all.
 *
 * @example
 * await rolesTrustingProvider(iam, 'arn:aws:iam::111111111111:oidc-provider/oidc.eks…'); // ['billing-reader']
 */
export async function rolesTrustingProvider(iam: IAMClient, providerArn: string): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolesCommand({ ...(marker ? { Marker: marker } : {}) }));
    for (const role of page.Roles ?? []) {
      if (trustsProvider(role.AssumeRolePolicyDocument, providerArn)) names.push(role.RoleName ?? '');
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return names.sort();
}

/**
 * Deletes the provider if Tether made it for this issuer and no role of the account trusts
 * it any more; anyone else's is never touched. A provider a role still trusts is `kept`,
 * and the result names those roles.
 */
export async function deleteOwnedProvider(iam: IAMClient, accountId: string, issuer: string) {
  const arn = oidcProviderArn(accountId, issuer);
  const existing = await findProvider(iam, arn);
  if (!existing) return { action: 'absent', arn };
  if (!isOwnedBy(existing.Tags, owners.issuer(issuer))) {
    return { action: 'left-unmanaged', arn };
  }
  const trustedBy = await rolesTrustingProvider(iam, arn);
  if (trustedBy.length > 0) {
    return { action: 'kept', arn, detail: `trusted by ${trustedBy.join(', ')}`, trustedBy };
  }
  try {
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity')) throw err;
  }
  return { action: 'deleted', arn };
}

/** The offboard step: leave the issuer; the provider goes with the issuer's last link. */
export async function releaseOidcProviderStep(link: Link, deps: StepDeps, publisher?: DiscoveryPublisher) {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'roles-anywhere') return releaseTrustAnchorStep(link, deps);
  const issuer = link.outputs.resolved?.source.issuer;
  // Mode pod-identity never joined the issuer's membership.
  if (!issuer || link.spec.identity.mode === 'pod-identity')
    return { result: { action: 'nothing-to-remove' } };
  const resource = membership.issuer(source.accountId, issuerHostPath(issuer));
  const outcome = await leaveShared(
    deps.memberships,
    resource,
    membership.link(link.id),
    link.id,
    deps.now().getTime(),
    async () => {
      // No link will lean on the last reading: the next one reads (#resources/source-side).
      await deps.memberships.forgetConfirmation(resource);
      const provider = await deleteOwnedProvider(
        deps.clients.iam(source.accountId),
        source.accountId,
        issuer,
      );
      // A self-managed issuer's documents go with its last link (docs/architecture.md#oidc-publishing-for-self-managed-clusters).
      if (link.outputs.resolved?.source.kind !== 'self-managed') return provider;
      const discovery = await publisherOf(publisher).unpublish(deps, issuer);
      return { ...provider, discovery: discovery.action };
    },
  );
  return {
    result: outcome.removed
      ? { ...outcome.result, remainingLinks: 0 }
      : { action: 'kept', arn: oidcProviderArn(source.accountId, issuer), remainingLinks: outcome.remaining },
  };
}
