/**
 * What a resource step needs from its runtime: the client factory, the stores and a clock.
 * The workflow's runtime provides it; tests pass a narrow one against the sandbox.
 */
import type { AwsClients } from '#aws/clients';
import type { ClusterStore } from '#store/clusters';
import type { LinkStore } from '#store/links';
import type { MembershipStore } from '#store/memberships';
import type { PublicFetch } from './oidc-discovery';

/**
 * Tether's OIDC bucket (the hub stack's `OidcBucket`; locally made by the runtime at start),
 * where the discovery documents of self-managed clusters are published, and how an
 * anonymous reader (IAM, STS) fetches them.
 */
export interface OidcPublishing {
  readonly bucket: string;
  readonly region: string;
  readonly fetchPublic: PublicFetch;
  /** How long a key dropped from a cluster's JWKS stays published. @default 48 hours */
  readonly retainRetiredKeysSeconds?: number;
}

export interface StepDeps {
  readonly clients: AwsClients;
  readonly links: LinkStore;
  readonly memberships: MembershipStore;
  /** Registered self-managed clusters; absent: every source cluster is EKS. */
  readonly clusters?: ClusterStore;
  /** Where self-managed clusters' OIDC discovery is published; absent: not configured. */
  readonly oidcPublishing?: OidcPublishing;
  readonly now: () => Date;
}
