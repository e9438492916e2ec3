/**
 * What a handler needs from its environment: the client factory, the stores, a clock and
 * the workflow ARNs. In AWS it is built once per container from environment variables;
 * the local runtime sets its own with {@link configureRuntime} before any handler runs.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AccessControl } from '#api/access';
import { AwsClients } from '#aws/clients';
import type { StepDeps } from '#resources/deps';
import { ClusterStore } from '#store/clusters';
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
  /**
   * Who may do what (`#api/access`): the policies, loaded and validated at start, and the
   * CIDR limits. Only the API has them (the local runtime sets them; the API Lambda loads
   * them at its cold start): the workflow functions never load Cedar.
   */
  readonly access?: AccessControl;
}

/** The three stores of the one table, on one client. */
export function tableStores(db: DynamoDBDocumentClient, tableName: string = DEFAULT_TABLE_NAME) {
  return {
    links: new LinkStore(db, tableName),
    memberships: new MembershipStore(db, tableName),
    idempotency: new IdempotencyStore(db, tableName),
    clusters: new ClusterStore(db, tableName),
  };
}

let current: TetherRuntime | undefined;

/** An anonymous HTTPS GET, as IAM and STS fetch an issuer's documents. */
async function fetchPublic(url: string) {
  const res = await fetch(url, { redirect: 'error' });
  const contentType = res.headers.get('content-type');
  return { status: res.status, ...(contentType ? { contentType } : {}), body: await res.text() };
}

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
  const clients = new AwsClients({
    hubAccountId,
    hubRegion: process.env.AWS_REGION ?? required('TETHER_HUB_REGION'),
    ...(process.env.TETHER_AGENT_ROLE_NAME ? { agentRoleName: process.env.TETHER_AGENT_ROLE_NAME } : {}),
    ...(process.env.TETHER_PERMISSIONS_BOUNDARY_NAME
      ? { permissionsBoundaryName: process.env.TETHER_PERMISSIONS_BOUNDARY_NAME }
      : {}),
  });
  const oidcBucket = process.env.TETHER_OIDC_BUCKET;
  current = {
    clients,
    ...tableStores(clients.dynamodb(), process.env.TETHER_TABLE_NAME ?? DEFAULT_TABLE_NAME),
    // Self-managed clusters' discovery documents, in the hub stack's OIDC bucket; read back
    // anonymously over HTTPS, as IAM and STS read them.
    ...(oidcBucket
      ? {
          oidcPublishing: {
            bucket: oidcBucket,
            region: process.env.TETHER_OIDC_BUCKET_REGION ?? clients.hubRegion,
            fetchPublic: fetchPublic,
          },
        }
      : {}),
    now: () => new Date(),
    stateMachines: {
      onboard: process.env.TETHER_ONBOARD_STATE_MACHINE_ARN ?? '',
      ...(process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN
        ? { offboard: process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN }
        : {}),
      ...(process.env.TETHER_RECONCILE_STATE_MACHINE_ARN
        ? { reconcile: process.env.TETHER_RECONCILE_STATE_MACHINE_ARN }
        : {}),
    },
  };
  return current;
}
