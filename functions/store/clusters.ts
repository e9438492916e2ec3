/**
 * Registered self-managed clusters (docs/architecture.md#oidc-publishing-for-self-managed-clusters): a cluster that
 * is not EKS (k3s, on-premises) whose OIDC discovery Tether publishes. One item per cluster
 * (`CLUSTER#<account>#<region>#<name>`), holding the issuer Tether serves and the public keys
 * of the cluster's JWKS — only the public members, after validation
 * (`#resources/oidc-discovery`). A PUT with new keys (rotation) replaces the keys; the
 * published JWKS keeps the dropped ones until their tokens expire. Writes are conditional on
 * the version read, so two registrations never lose one another.
 */
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError } from '#link/errors';
import type { ClusterRef } from '#link/model';
import type { JWK } from 'jose';
import { DEFAULT_TABLE_NAME, isConditionFailure, keys } from './table';

/** A self-managed cluster as the table keeps it. */
export interface SelfManagedCluster extends ClusterRef {
  readonly kind: 'self-managed';
  /** The issuer URL Tether serves (its OIDC bucket): the cluster's `--service-account-issuer`. */
  readonly issuer: string;
  /** The cluster's current signing keys, public members only. */
  readonly keys: readonly JWK[];
  readonly registeredAt: string;
  readonly updatedAt: string;
  /** The caller who registered it last. */
  readonly updatedBy?: string;
  readonly version: number;
}

/**
 * @example
 * const clusters = new ClusterStore(db);
 * await clusters.get({ accountId: '111111111111', region: 'eu-west-1', cluster: 'k3s-lab' });
 */
export class ClusterStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string = DEFAULT_TABLE_NAME,
  ) {}

  /** The registration of a cluster, or undefined (consistent read). */
  async get(ref: ClusterRef): Promise<SelfManagedCluster | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.cluster(ref.accountId, ref.region, ref.cluster),
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...item } = out.Item;
    return item as SelfManagedCluster;
  }

  /**
   * Writes a registration: a new one when `expectedVersion` is 0, else only over that
   * version. Throws {@link ConcurrentUpdateError} when someone wrote first.
   */
  async put(
    cluster: Omit<SelfManagedCluster, 'version'>,
    expectedVersion: number,
  ): Promise<SelfManagedCluster> {
    const item = { ...cluster, version: expectedVersion + 1 };
    await overVersionRead(cluster, () =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.cluster(cluster.accountId, cluster.region, cluster.cluster), ...item },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'version = :v',
                ExpressionAttributeValues: { ':v': expectedVersion },
              }),
        }),
      ),
    );
    return item;
  }

  /** Forgets a registration (only the version read). */
  async delete(cluster: SelfManagedCluster): Promise<void> {
    await overVersionRead(cluster, () =>
      this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: keys.cluster(cluster.accountId, cluster.region, cluster.cluster),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': cluster.version },
        }),
      ),
    );
  }
}

/** A conditional write of a registration: {@link ConcurrentUpdateError} when someone wrote first. */
async function overVersionRead(cluster: ClusterRef, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (isConditionFailure(err))
      throw new ConcurrentUpdateError(
        `The registration of ${cluster.accountId}/${cluster.region}/${cluster.cluster} changed meanwhile; retry`,
        { cause: err },
      );
    throw err;
  }
}
