/**
 * docs/architecture.md#vocabulary as types: what an onboarding request asks for and what
 * the table keeps of each link. The API schema (`api/openapi.yaml`) is the source of truth
 * for validation; these types mirror it.
 */
import type { Caller } from './caller';

/** A cluster Tether knows by account, region and name. */
export interface ClusterRef {
  readonly accountId: string;
  readonly region: string;
  readonly cluster: string;
}

/** The source side: a Kubernetes service account in a cluster. */
export interface WorkloadRef extends ClusterRef {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** EKS access-policy scope. */
export type AccessScope =
  | { readonly type: 'cluster' }
  | { readonly type: 'namespace'; readonly namespaces: readonly string[] };

/** What the workload may do on the target: an EKS access policy, or Kubernetes groups. */
export type Access =
  | { readonly policyArn: string; readonly scope: AccessScope; readonly username?: string }
  | { readonly groups: readonly string[]; readonly username?: string };

/** Where the target must let the source in from. */
export type Network =
  | { readonly mode: 'nat' }
  | { readonly mode: 'cidrs'; readonly cidrs: readonly string[] }
  | { readonly mode: 'none' };

export type IdentityMode = 'irsa' | 'pod-identity' | 'roles-anywhere' | 'principal';

/**
 * How the workload proves who it is (docs/architecture.md#identity-modes): the mode, and
 * its options.
 * - `principalArn` (mode `principal` only, required there): the existing IAM role that is
 *   the source (a KIAM server role, a Cluster API controller's instance role). Tether never
 *   changes it; it makes only the target side and says what the role must allow.
 * - `directAccess` (mode `irsa` only): the target's access entry names the workload role
 *   itself: no target role, no role chain.
 */
export interface Identity {
  readonly mode: IdentityMode;
  readonly principalArn?: string;
  readonly directAccess?: boolean;
  /**
   * Mode `roles-anywhere` only: the source cluster's CA certificate (PEM) for its IAM Roles
   * Anywhere trust anchor. Absent in a request: Tether reuses the cluster's, or makes one and
   * returns its private key once (`#resources/roles-anywhere`).
   */
  readonly caCertificate?: string;
}

/** One target of an onboarding request. */
export interface TargetRequest extends ClusterRef {
  readonly access: Access;
  /**
   * AWS permissions in the target account: managed policy ARNs (AWS managed, or customer
   * managed in the target account) attached to the link's target role, within the
   * guardrails (`#link/guardrails`), the policies' list and the deployment's boundary.
   */
  readonly awsPolicies?: readonly string[];
}

/** Body of `POST /links` (after defaults are applied). */
export interface OnboardingRequest {
  readonly source: WorkloadRef;
  readonly identity: Identity;
  readonly network: Network;
  readonly targets: readonly TargetRequest[];
}

/** The spec of one link: one workload → one target. */
export interface LinkSpec {
  readonly source: WorkloadRef;
  readonly target: ClusterRef;
  readonly access: Access;
  readonly network: Network;
  readonly identity: Identity;
  /** The target role's AWS managed or customer managed policies, sorted; absent when none. */
  readonly awsPolicies?: readonly string[];
}

export const LINK_STATUSES = [
  'AWAITING_APPROVAL',
  'PENDING',
  'PROVISIONING',
  'ACTIVE',
  'FAILED',
  'RECONCILING',
  'DEGRADED',
  'DELETING',
  'DELETED',
  'REJECTED',
] as const;
export type LinkStatus = (typeof LINK_STATUSES)[number];

/** The steps of the onboard workflow, in runbook order; each writes its result to the link. */
export const ONBOARD_STEPS = [
  'resolve',
  'oidcProvider',
  'workloadRole',
  'podIdentityAssociation',
  'targetRole',
  'accessEntry',
  'egress',
  'kubeconfig',
  'verify',
] as const;
export type OnboardStep = (typeof ONBOARD_STEPS)[number];

/** The removal steps, in the order offboard (and an onboard's compensation) runs them. */
export const OFFBOARD_STEPS = [
  'revokeEgress',
  'removeAccessEntry',
  'removeTargetRole',
  'removePodIdentityAssociation',
  'releaseWorkloadRole',
  'releaseOidcProvider',
] as const;
export type OffboardStep = (typeof OFFBOARD_STEPS)[number];

export interface StepResult {
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly attempts: number;
  /** What the step made, found or changed: `created`, `unchanged`, `updated`, … and the ids. */
  readonly result?: Record<string, unknown>;
  readonly error?: {
    readonly code: string;
    readonly message: string;
    /** The AWS error code behind it, when an AWS call failed. */
    readonly awsCode?: string;
    /** The AWS request id of that call, to quote to AWS support or find in CloudTrail. */
    readonly awsRequestId?: string;
  };
}

export interface LinkError {
  readonly code: string;
  readonly message: string;
  readonly step?: string;
  /** The AWS error code behind it, when an AWS call failed. */
  readonly awsCode?: string;
  /** The AWS request id of that call. */
  readonly awsRequestId?: string;
}

/** What the resolve step read of both clusters: what every later step builds on. */
export interface ResolvedSource {
  readonly clusterArn: string;
  /**
   * `self-managed`: a registered cluster that is not EKS, whose issuer Tether serves from its
   * OIDC bucket (no VPC: its egress is given). Absent: an EKS cluster.
   */
  readonly kind?: 'self-managed';
  readonly issuer?: string;
  readonly vpcId: string;
  /** Public IPs of the source VPC's available NAT gateways, sorted. */
  readonly natIps: readonly string[];
}

export interface ResolvedTarget {
  readonly clusterArn: string;
  readonly endpoint: string;
  readonly certificateAuthority: string;
  readonly authenticationMode: 'API' | 'API_AND_CONFIG_MAP' | 'CONFIG_MAP';
  readonly clusterSecurityGroupId?: string;
  readonly vpcId: string;
  readonly endpointPublicAccess: boolean;
  readonly endpointPrivateAccess: boolean;
  readonly publicAccessCidrs: readonly string[];
}

export interface Resolved {
  readonly source: ResolvedSource;
  readonly target: ResolvedTarget;
}

/**
 * Where a link's allowance takes effect (docs/architecture.md#what-one-link-makes-and-who-owns-it):
 * the public endpoint open to all (nothing to allow), the cluster's `publicAccessCidrs`, the
 * cluster security group (sources that reach the private endpoint), or nothing at all
 * (network `none`). A link with both private and public CIDRs has two, joined by `+`.
 */
export type EffectiveAt =
  | 'public-endpoint-open-to-all'
  | 'public-access-cidrs'
  | 'cluster-security-group'
  | 'public-access-cidrs+cluster-security-group'
  | 'public-endpoint-open-to-all+cluster-security-group'
  | 'nothing-to-allow';

/** The egress allowance as the link records it (the onboard's output, read back by reconcile and offboard). */
export interface EgressOutput {
  readonly mode?: Network['mode'];
  /** Where the allowance takes effect, decided from the target's `resourcesVpcConfig`. */
  readonly effectiveAt?: EffectiveAt;
  /** The same, said in words (e.g. "public endpoint open to all: nothing to allow"). */
  readonly note?: string;
  /** Every CIDR the link lets in, wherever it takes effect. */
  readonly cidrs: readonly string[];
  /** The security group the rules are on, when there are rules. */
  readonly securityGroupId?: string;
  /** The CIDRs let in on the security group (absent on links recorded before: then `cidrs`). */
  readonly securityGroupCidrs?: readonly string[];
  /** Rule id per CIDR. */
  readonly ruleIds?: Record<string, string>;
  /**
   * CIDRs a rule Tether did not make already lets in, with that rule's id: "allowed by an
   * existing rule, not managed"; never changed or revoked.
   */
  readonly adopted?: Record<string, string>;
  /** The CIDRs merged into the target's `publicAccessCidrs`, and those someone else's CIDR already covers. */
  readonly publicAccess?: {
    readonly cluster: string;
    readonly cidrs: readonly string[];
    /** CIDR → the CIDR of the list that already lets it in, not Tether's: never removed. */
    readonly adopted?: Record<string, string>;
  };
  /** Where the allowance takes effect, as far as the target's endpoint configuration tells. */
  readonly securityGroupGoverns?: string;
  readonly publicEndpoint?: string;
  readonly publicAccessCidrs?: readonly string[];
}

/** What the link tells its user about its Pod Identity association (mode pod-identity). */
export interface PodIdentityAssociationOutput {
  readonly associationId: string;
  readonly associationArn: string;
  readonly roleArn: string;
  readonly targetRoleArn: string;
  readonly externalId?: string;
  /** When a change reaches pods that are running. */
  readonly takesEffect: string;
}

/**
 * What the steps put on a link for later steps, the API and the user: each key is written
 * by one step (named beside it).
 */
export interface LinkOutputs {
  /** Resolve clusters and NAT IPs. */
  readonly resolved?: Resolved;
  /** Ensure OIDC provider. */
  readonly oidcProviderArn?: string;
  /** Ensure OIDC provider, mode `roles-anywhere`: the source cluster's trust anchor. */
  readonly trustAnchorArn?: string;
  /** Ensure workload role. */
  readonly workloadRoleArn?: string;
  /** Ensure workload role, mode `roles-anywhere`: the workload's Roles Anywhere profile. */
  readonly profileArn?: string;
  readonly serviceAccountAnnotation?: Record<string, string>;
  /** Ensure Pod Identity association (mode pod-identity): the association and when a change reaches running pods. */
  readonly podIdentityAssociation?: PodIdentityAssociationOutput;
  /** Ensure target role. */
  readonly targetRoleArn?: string;
  /**
   * Ensure target role, mode `principal`: the statement the source role (not Tether's) must
   * hold to assume the target role; Verify role chain says whether it already does.
   */
  readonly sourcePrincipal?: SourcePrincipalOutput;
  /** Ensure access entry: the entry (or aws-auth mapping) and what was done. */
  readonly access?: Record<string, unknown>;
  /** Ensure egress allowance. */
  readonly egress?: EgressOutput;
  /** Render kubeconfig (dropped when the link starts deleting). */
  readonly kubeconfig?: string;
}

/** What a `principal` link tells its user about the source role Tether does not own. */
export interface SourcePrincipalOutput {
  readonly principalArn: string;
  /** The exact identity-policy statement the source role needs. */
  readonly requiredStatement: Record<string, unknown>;
  /** Whether the role's policies already allow it (read-only evaluation); `unknown` when they cannot be read or evaluated. */
  readonly allows?: 'yes' | 'no' | 'unknown';
  readonly detail?: string;
}

/** An approver's decision on a link that waited in AWAITING_APPROVAL (`POST /links/{id}/approval`). */
export interface ApprovalRecord {
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
  readonly by: Caller;
  readonly at: string;
}

/**
 * A proof of the link on demand (`POST /links/{id}/verify`): the chain evaluated hop by hop
 * against the policies and rules in place at `at` (`#resources/verify`).
 */
export interface LinkVerification {
  readonly at: string;
  /** Every hop holds. */
  readonly ok: boolean;
  readonly hops: readonly { readonly hop: string; readonly ok: boolean; readonly detail: string }[];
  /** The ARN of who asked. */
  readonly by?: string;
}

/** A link as the table keeps it and the API shows it. */
export interface Link {
  readonly id: string;
  readonly requestId: string;
  readonly status: LinkStatus;
  readonly version: number;
  readonly spec: LinkSpec;
  readonly steps: Partial<Record<string, StepResult>>;
  readonly outputs: LinkOutputs;
  readonly error?: LinkError;
  readonly lastExecution?: {
    readonly name: string;
    readonly arn: string;
    readonly workflow: string;
    /** Who asked for the run (the ARN of {@link Link.requestedBy} when it started). */
    readonly requestedBy?: string;
  };
  /** Every execution that drove the link, oldest first. */
  readonly runs?: readonly {
    readonly name: string;
    readonly arn: string;
    readonly workflow: string;
    readonly startedAt: string;
    readonly requestedBy?: string;
  }[];
  /** Who asked for the link (absent on links made before callers were known). */
  readonly createdBy?: Caller;
  /**
   * Who asked for the link's current or next run (create, reconcile, delete): the
   * `SourceIdentity` of the run's calls into the member accounts.
   */
  readonly requestedBy?: Caller;
  /** The approver's decision, when the link had to wait for one. */
  readonly approvals?: readonly ApprovalRecord[];
  /** The last verification asked for (`POST /links/{id}/verify`). */
  readonly verification?: LinkVerification;
  readonly createdAt: string;
  readonly updatedAt: string;
}
