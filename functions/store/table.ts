/**
 * The one table (docs/architecture.md#state-in-dynamodb): its definition, shared by the CDK stack
 * and the local runtime, and the key of every item kind. Single-item conditional writes
 * only — the embedded emulator has no transactions, and none are needed: every item has
 * one writer rule.
 *
 * | item | pk | sk |
 * |---|---|---|
 * | link | `LINK#<id>` | `LINK` (GSI `byCreated`: `gsi1pk = LINKS`, `gsi1sk = <createdAt>#<id>`) |
 * | natural key (one link per workload → target: the link to be, RESERVED with a lease, then COMMITTED) | `LINKKEY#<hash>` | `LINKKEY` |
 * | onboarding request | `REQUEST#<id>` | `REQUEST` |
 * | idempotency key | `IDEMPOTENCY#<key>` | `IDEMPOTENCY` |
 * | registered self-managed cluster | `CLUSTER#<account>#<region>#<name>` | `CLUSTER` |
 * | membership of a shared resource | `<KIND>#<resource key>` | `<MEMBER KIND>#<member id>` |
 * | removal lock of a shared resource | `<KIND>#<resource key>` | `#REMOVAL_LOCK` |
 */
import { ConditionalCheckFailedException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { LinkSpec } from '#link/model';
import { linkNaturalKey, shortHash } from '#link/names';

export const DEFAULT_TABLE_NAME = 'tether';
export const GSI_BY_CREATED = 'byCreated';

/** The attribute DynamoDB's TTL reads (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** Sort key of a shared resource's removal lock (docs/architecture.md#the-reference-counting-protocol). */
export const REMOVAL_LOCK_SK = '#REMOVAL_LOCK';

/**
 * Sort key of the item that says Tether itself put a shared resource in place (a CIDR in a
 * cluster's `publicAccessCidrs`, which carries no tags): only then may the last leaver take
 * it out. Sort keys starting with `#` are never members.
 */
export const MANAGED_MARKER_SK = '#MANAGED';

/**
 * Sort key of the item that says a run of Tether read a shared source-side resource (an
 * issuer's OIDC provider, a workload's role), found or made it as Tether wants it, and no
 * verification has found it changed since: a workload's further links then leave its
 * confirmation to their own Verify role chain (docs/architecture.md#a-further-link-of-a-workload).
 */
export const CONFIRMED_SK = '#CONFIRMED';

/** The key of every item kind but memberships. */
export const keys = {
  link: (id: string) => ({ pk: `LINK#${id}`, sk: 'LINK' }),
  naturalKey: (spec: Pick<LinkSpec, 'source' | 'target'>) => ({
    pk: `LINKKEY#${shortHash([linkNaturalKey(spec)], 32)}`,
    sk: 'LINKKEY',
  }),
  request: (requestId: string) => ({ pk: `REQUEST#${requestId}`, sk: 'REQUEST' }),
  idempotency: (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: 'IDEMPOTENCY' }),
  cluster: (accountId: string, region: string, cluster: string) => ({
    pk: `CLUSTER#${accountId}#${region}#${cluster}`,
    sk: 'CLUSTER',
  }),
  /** Where the last drift sweep stopped in the `byCreated` index, when it ran out of time. */
  sweepCursor: () => ({ pk: 'SWEEP', sk: 'CURSOR' }),
} as const;

/** Membership keys of the shared resources (docs/architecture.md#state-in-dynamodb). */
export const membership = {
  /** Links of a workload: they define its role's policy. */
  workload: (workloadKey: string) => `WORKLOAD#${workloadKey}`,
  /** Workloads using an issuer's OIDC provider in the source account. */
  issuer: (accountId: string, issuerHostPath: string) => `ISSUER#${accountId}#${issuerHostPath}`,
  /** Links needing one CIDR on one target security group. */
  egress: (accountId: string, region: string, groupId: string, cidr: string) =>
    `EGRESS#${accountId}#${region}#${groupId}#${cidr}`,
  /** Links needing one CIDR in one cluster's `publicAccessCidrs`. */
  publicAccess: (accountId: string, region: string, cluster: string, cidr: string) =>
    `PUBLICACCESS#${accountId}#${region}#${cluster}#${cidr}`,
  /** One cluster's endpoint configuration: its lock serialises Tether's UpdateClusterConfig calls. */
  clusterEndpoint: (accountId: string, region: string, cluster: string) =>
    `ENDPOINT#${accountId}#${region}#${cluster}`,
  /** Links whose source is one VPC (for reconcile look-ups on NAT changes). */
  sourceVpc: (accountId: string, region: string, vpcId: string) =>
    `SOURCEVPC#${accountId}#${region}#${vpcId}`,
  /** Links using a source cluster's IAM Roles Anywhere trust anchor (`clusterKey`). */
  trustAnchor: (clusterKey: string) => `TRUSTANCHOR#${clusterKey}`,
  /** A link as a member of a shared resource. */
  link: (id: string) => `LINK#${id}`,
} as const;

/** Whether a write failed its condition (someone else wrote first). */
export function isConditionFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err as Error)?.name === 'ConditionalCheckFailedException'
  );
}

/**
 * The table as DynamoDB creates it: keys, the `byCreated` index, on-demand billing.
 *
 * @example
 * await dynamodb.send(new CreateTableCommand(tableDefinition('tether')));
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: GSI_BY_CREATED,
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}
