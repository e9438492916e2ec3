/**
 * Registered self-managed clusters (`#store/clusters`), against the embedded DynamoDB: one
 * item per cluster, written over the version read, so two registrations never lose one
 * another, and forgotten only at the version read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError } from '#link/errors';
import type { ClusterStore, SelfManagedCluster } from '#store/clusters';
import { type EmbeddedTable, startTable, unique } from './support';

let table: EmbeddedTable;
let clusters: ClusterStore;

const registration = (cluster: string, kid: string): Omit<SelfManagedCluster, 'version'> => ({
  accountId: '111111111111',
  region: 'eu-west-1',
  cluster,
  kind: 'self-managed',
  issuer: `https://tether-oidc.s3.ap-southeast-1.amazonaws.com/111111111111/eu-west-1/${cluster}`,
  keys: [{ kty: 'RSA', kid, n: 'AQAB', e: 'AQAB' }],
  registeredAt: '2026-11-29T08:00:00.000Z',
  updatedAt: '2026-11-29T08:00:00.000Z',
});

beforeAll(async () => {
  table = await startTable();
  clusters = table.stores.clusters;
});
afterAll(async () => {
  await table?.close();
});

describe('ClusterStore', () => {
  it('keeps a registration and reads it back at version 1', async () => {
    // Arrange
    const name = unique('k3s');
    // Act
    await clusters.put(registration(name, 'a'), 0);
    // Assert
    const read = await clusters.get({ accountId: '111111111111', region: 'eu-west-1', cluster: name });
    expect(read).toEqual({ ...registration(name, 'a'), version: 1 });
  });

  it('refuses a second new registration and a write over a stale version', async () => {
    // Arrange
    const name = unique('k3s');
    await clusters.put(registration(name, 'a'), 0);
    await clusters.put(registration(name, 'b'), 1);
    // Act
    const again = await clusters.put(registration(name, 'c'), 0).catch((e: Error) => e);
    const stale = await clusters.put(registration(name, 'c'), 1).catch((e: Error) => e);
    // Assert
    expect(again).toBeInstanceOf(ConcurrentUpdateError);
    expect(stale).toBeInstanceOf(ConcurrentUpdateError);
    const read = await clusters.get({ accountId: '111111111111', region: 'eu-west-1', cluster: name });
    expect(read?.keys.map((k) => k.kid)).toEqual(['b']);
    expect(read?.version).toBe(2);
  });

  it('forgets a registration only at the version read', async () => {
    // Arrange
    const name = unique('k3s');
    const ref = { accountId: '111111111111', region: 'eu-west-1', cluster: name };
    const first = await clusters.put(registration(name, 'a'), 0);
    await clusters.put(registration(name, 'b'), 1);
    // Act
    const stale = await clusters.delete(first).catch((e: Error) => e);
    const kept = await clusters.get(ref);
    await clusters.delete(kept as SelfManagedCluster);
    // Assert
    expect(stale).toBeInstanceOf(ConcurrentUpdateError);
    expect(kept?.version).toBe(2);
    expect(await clusters.get(ref)).toBeUndefined();
  });
});
