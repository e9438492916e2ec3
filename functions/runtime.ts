/**
 * What a handler needs from its environment: the client factory, the stores, a clock and
 * the workflow ARNs. In AWS it is built once per container from environment variables;
 * the local runtime sets its own with {@link configureRuntime} before any handler runs.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AccessControl } from '#api/access';
import { AccessPolicies } from '#api/authorization';
import { AwsClients } from '#aws/clients';
import { type CidrGuardrails, DEFAULT_CIDR_GUARDRAILS } from '#link/cidrs';
import type { StepDeps } from '#resources/deps';
import { IdempotencyStore } from '#store/idempotency';
import { LinkStore } from '#store/links';
import { MembershipStore } from '#store/memberships';
import { DEFAULT_TABLE_NAME } from '#store/table';

export interface TetherRuntime extends StepDeps {
  readonly idempotency: IdempotencyStore;
  /** ARNs of the state machines, by workflow name. */
  readonly stateMachines: {
    readonly onboard: string;
    readonly offboard?: string;
    readonly reconcile?: string;
  };
  /** Who may do what (`#api/access`): the policies, loaded and validated at start, and the CIDR limits. */
  readonly access?: AccessControl;
}

/**
 * The access control of the API: the policies of `dir` (else `TETHER_POLICY_DIR`, else the
 * repository's `policies/`), validated now — a bad policy file throws `PolicyFileError` —
 * and the CIDR limits (`TETHER_CIDR_WIDEST_PREFIX`, `TETHER_CIDRS_PER_LINK`).
 */
export function loadAccessControl(options: {
  readonly hubAccountId: string;
  readonly policyDir?: string;
  readonly cidrs?: Partial<CidrGuardrails>;
}): AccessControl {
  const fromEnv = (name: string): number | undefined => {
    const value = process.env[name];
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not "${value}"`);
    return n;
  };
  const widestPrefix = options.cidrs?.widestPrefix ?? fromEnv('TETHER_CIDR_WIDEST_PREFIX');
  const maxCidrsPerLink = options.cidrs?.maxCidrsPerLink ?? fromEnv('TETHER_CIDRS_PER_LINK');
  return {
    policies: AccessPolicies.load({
      hubAccountId: options.hubAccountId,
      ...(options.policyDir ? { dir: options.policyDir } : {}),
    }),
    cidrs: {
      widestPrefix: widestPrefix ?? DEFAULT_CIDR_GUARDRAILS.widestPrefix,
      maxCidrsPerLink: maxCidrsPerLink ?? DEFAULT_CIDR_GUARDRAILS.maxCidrsPerLink,
    },
  };
}

/** The three stores of the one table, on one client. */
export function tableStores(db: DynamoDBDocumentClient, tableName: string = DEFAULT_TABLE_NAME) {
  return {
    links: new LinkStore(db, tableName),
    memberships: new MembershipStore(db, tableName),
    idempotency: new IdempotencyStore(db, tableName),
  };
}

let current: TetherRuntime | undefined;

/** Replaces the runtime (local mode, tests). */
export function configureRuntime(runtime: TetherRuntime): void {
  current = runtime;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set`);
  return value;
}

/** The runtime: configured, or built from the Lambda environment on first use. */
export function runtime(): TetherRuntime {
  if (current) return current;
  const hubAccountId = required('TETHER_HUB_ACCOUNT_ID');
  // Policies first: a bad policy file stops the cold start with its message.
  const access = loadAccessControl({ hubAccountId });
  const clients = new AwsClients({
    hubAccountId,
    hubRegion: process.env.AWS_REGION ?? required('TETHER_HUB_REGION'),
    ...(process.env.TETHER_AGENT_ROLE_NAME ? { agentRoleName: process.env.TETHER_AGENT_ROLE_NAME } : {}),
    ...(process.env.TETHER_PERMISSIONS_BOUNDARY_NAME
      ? { permissionsBoundaryName: process.env.TETHER_PERMISSIONS_BOUNDARY_NAME }
      : {}),
  });
  current = {
    clients,
    ...tableStores(clients.dynamodb(), process.env.TETHER_TABLE_NAME ?? DEFAULT_TABLE_NAME),
    now: () => new Date(),
    access,
    stateMachines: {
      onboard: process.env.TETHER_ONBOARD_STATE_MACHINE_ARN ?? '',
      ...(process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN
        ? { offboard: process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN }
        : {}),
    },
  };
  return current;
}
