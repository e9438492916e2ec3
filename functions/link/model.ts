/**
 * The link vocabulary of DESIGN.md as types: what an onboarding request asks for and what
 * the table keeps of each link. The API schema (`api/openapi.yaml`) is the source of truth
 * for validation; these types mirror it.
 */

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

/** One target of an onboarding request. */
export interface TargetRequest extends ClusterRef {
  readonly access: Access;
}

/** Body of `POST /links` (after defaults are applied). */
export interface OnboardingRequest {
  readonly source: WorkloadRef;
  readonly identity: { readonly mode: IdentityMode };
  readonly network: Network;
  readonly targets: readonly TargetRequest[];
}

/** The spec of one link: one workload → one target. */
export interface LinkSpec {
  readonly source: WorkloadRef;
  readonly target: ClusterRef;
  readonly access: Access;
  readonly network: Network;
  readonly identity: { readonly mode: IdentityMode };
}

export const LINK_STATUSES = [
  'PENDING',
  'PROVISIONING',
  'ACTIVE',
  'FAILED',
  'RECONCILING',
  'DEGRADED',
  'DELETING',
  'DELETED',
] as const;
export type LinkStatus = (typeof LINK_STATUSES)[number];

/** The steps of the onboard workflow, in runbook order; each writes its result to the link. */
export const ONBOARD_STEPS = [
  'resolve',
  'oidcProvider',
  'workloadRole',
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
  readonly error?: { readonly code: string; readonly message: string };
}

export interface LinkError {
  readonly code: string;
  readonly message: string;
  readonly step?: string;
}

/** A link as the table keeps it and the API shows it. */
export interface Link {
  readonly id: string;
  readonly requestId: string;
  readonly status: LinkStatus;
  readonly version: number;
  readonly spec: LinkSpec;
  readonly steps: Partial<Record<string, StepResult>>;
  readonly outputs: Record<string, unknown>;
  readonly error?: LinkError;
  readonly lastExecution?: { readonly name: string; readonly arn: string; readonly workflow: string };
  /** Every execution that drove the link, oldest first. */
  readonly runs?: readonly {
    readonly name: string;
    readonly arn: string;
    readonly workflow: string;
    readonly startedAt: string;
  }[];
  readonly createdAt: string;
  readonly updatedAt: string;
}
