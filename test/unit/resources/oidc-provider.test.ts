/**
 * The OIDC provider of the source cluster's issuer (`#resources/oidc-provider`), against
 * the sandbox: made once with the `sts.amazonaws.com` audience and Tether's tags, shared by
 * the issuer's links, gone with the last of them; one Tether did not make is used as it is
 * and never changed or deleted.
 */
import {
  CreateOpenIDConnectProviderCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentUpdateError, ConflictUnmanagedResourceError, QuotaExceededError } from '#link/errors';
import { issuerHostPath, oidcProviderArn } from '#link/names';
import {
  deleteOwnedProvider,
  ensureOidcProvider,
  oidcProviderStep,
  releaseOidcProviderStep,
  STS_AUDIENCE,
} from '#resources/oidc-provider';
import { REMOVAL_LEASE_MS } from '#store/memberships';
import { membership } from '#store/table';
import {
  linkOf,
  newCluster,
  newSpec,
  newWorkload,
  observe,
  oidcProviderIn,
  resolvedLink,
  rootClients,
  SOURCE_ACCOUNT,
  startSandboxRuntime,
  tagMap,
  type SandboxRuntime,
} from './support';

let rt: SandboxRuntime;

beforeAll(async () => {
  rt = await startSandboxRuntime();
});
afterAll(async () => {
  await rt?.close();
});

const iam = () => rt.clients.iam(SOURCE_ACCOUNT);

/** A new source cluster, so a new issuer no other test uses. */
function newIssuer() {
  const { ids, ref } = newCluster(rt.sandbox, { accountId: SOURCE_ACCOUNT });
  const issuer = ids.oidcIssuer!;
  return { issuer, ref, arn: oidcProviderArn(SOURCE_ACCOUNT, issuer) };
}

/** Makes a provider for the issuer as someone other than Tether would (eksctl, say). */
async function unmanagedProvider(issuer: string, audiences: string[]) {
  await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
    new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: audiences }),
  );
}

/** A resolved link of a new workload of the cluster `ref`. */
const linkFrom = (ref: { accountId: string; region: string; cluster: string }) =>
  resolvedLink(rt.runtime, newSpec({ source: newWorkload(ref) }));

describe('ensureOidcProvider', () => {
  it('creates the provider for the issuer with the sts audience and the issuer’s owner tags', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ arn, issuer, action: 'created' });
    expect(mutations).toEqual(['iam:CreateOpenIDConnectProvider']);
    const provider = oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)!;
    expect(provider.Url).toBe(issuerHostPath(issuer));
    expect(provider.ClientIDList).toEqual([STS_AUDIENCE]);
    expect(tagMap(provider.Tags)).toEqual({
      'tether:managed': 'true',
      'tether:owner': `issuer:${issuerHostPath(issuer)}`,
    });
  });

  it('makes no mutating call when its provider is in place', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ arn, issuer, action: 'unchanged' });
    expect(mutations).toEqual([]);
  });

  it('adds the sts audience back to its own provider', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer);
    await rootClients(rt.sandbox, SOURCE_ACCOUNT).iam.send(
      new RemoveClientIDFromOpenIDConnectProviderCommand({
        OpenIDConnectProviderArn: arn,
        ClientID: STS_AUDIENCE,
      }),
    );

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value?.action).toBe('updated');
    expect(mutations).toEqual(['iam:AddClientIDToOpenIDConnectProvider']);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)?.ClientIDList).toEqual([STS_AUDIENCE]);
  });

  it('uses a provider Tether did not make as it is when it lists the sts audience', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await unmanagedProvider(issuer, ['other-audience', STS_AUDIENCE]);
    const before = oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ arn, issuer, action: 'uses-existing-unmanaged' });
    expect(mutations).toEqual([]);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toEqual(before);
  });

  it('refuses a provider Tether did not make that lacks the sts audience, and changes nothing', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await unmanagedProvider(issuer, ['other-audience']);
    const before = oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn);

    // Act
    const { error, mutations } = await observe(rt.sandbox, () =>
      ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(error).toBeInstanceOf(ConflictUnmanagedResourceError);
    expect((error as ConflictUnmanagedResourceError).resource).toBe(arn);
    expect(mutations).toEqual([]);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toEqual(before);
  });

  it('checks a provider that a concurrent run made first as an existing one', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    rt.sandbox.injectFault({
      service: 'iam',
      operation: 'CreateOpenIDConnectProvider',
      code: 'EntityAlreadyExists',
      when: 'after',
    });

    // Act
    const { value } = await observe(rt.sandbox, () => ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer));

    // Assert
    expect(value).toEqual({ arn, issuer, action: 'unchanged' });
  });

  it('answers QuotaExceededError when the account has all the providers it may', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    rt.sandbox.injectFault({
      service: 'iam',
      operation: 'CreateOpenIDConnectProvider',
      code: 'LimitExceeded',
    });

    // Act
    const { error } = await observe(rt.sandbox, () => ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer));

    // Assert
    expect(error).toBeInstanceOf(QuotaExceededError);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toBeUndefined();
  });
});

describe('deleteOwnedProvider', () => {
  it('deletes the provider Tether made for the issuer', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await ensureOidcProvider(iam(), SOURCE_ACCOUNT, issuer);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ action: 'deleted', arn });
    expect(mutations).toEqual(['iam:DeleteOpenIDConnectProvider']);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toBeUndefined();
  });

  it('leaves a provider Tether did not make', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();
    await unmanagedProvider(issuer, [STS_AUDIENCE]);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ action: 'left-unmanaged', arn });
    expect(mutations).toEqual([]);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toBeDefined();
  });

  it('answers absent when there is no provider', async () => {
    // Arrange
    const { issuer, arn } = newIssuer();

    // Act
    const { value, mutations } = await observe(rt.sandbox, () =>
      deleteOwnedProvider(iam(), SOURCE_ACCOUNT, issuer),
    );

    // Assert
    expect(value).toEqual({ action: 'absent', arn });
    expect(mutations).toEqual([]);
  });
});

describe('oidcProviderStep and releaseOidcProviderStep', () => {
  it('joins the issuer’s links and ensures the provider, giving its ARN as output', async () => {
    // Arrange
    const { ref, issuer, arn } = newIssuer();
    const link = await linkFrom(ref);

    // Act
    const out = await oidcProviderStep(link, rt.runtime);

    // Assert
    expect(out).toEqual({ result: { arn, issuer, action: 'created' }, outputs: { oidcProviderArn: arn } });
    const members = await rt.runtime.memberships.members(
      membership.issuer(SOURCE_ACCOUNT, issuerHostPath(issuer)),
    );
    expect(members.map((m) => m.linkId)).toEqual([link.id]);
  });

  it('shares one provider among the issuer’s links: it stays with the first release and goes with the last', async () => {
    // Arrange: two workloads of the same cluster.
    const { ref, issuer, arn } = newIssuer();
    const first = await linkFrom(ref);
    const second = await linkFrom(ref);
    await oidcProviderStep(first, rt.runtime);
    const joined = await observe(rt.sandbox, () => oidcProviderStep(second, rt.runtime));

    // Act
    const kept = await observe(rt.sandbox, () => releaseOidcProviderStep(first, rt.runtime));
    const keptProvider = oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn);
    const removed = await observe(rt.sandbox, () => releaseOidcProviderStep(second, rt.runtime));

    // Assert
    // The second link's onboard leaves the provider the first one confirmed to its verify.
    expect(joined.value?.result).toMatchObject({ action: 'confirmed-before', confirmedBy: first.id });
    expect(joined.mutations).toEqual([]);
    expect(kept.value).toEqual({ result: { action: 'kept', arn, remainingLinks: 1 } });
    expect(kept.mutations).toEqual([]);
    expect(keptProvider).toBeDefined();
    expect(removed.value).toEqual({ result: { action: 'deleted', arn, remainingLinks: 0 } });
    expect(removed.mutations).toEqual(['iam:DeleteOpenIDConnectProvider']);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toBeUndefined();
    // The issuer's next link reads and makes the provider again: no confirmation is left.
    const resource = membership.issuer(SOURCE_ACCOUNT, issuerHostPath(issuer));
    expect(await rt.runtime.memberships.confirmation(resource)).toBeUndefined();
  });

  it('leaves a provider Tether did not make when the issuer’s last link goes', async () => {
    // Arrange
    const { ref, issuer, arn } = newIssuer();
    await unmanagedProvider(issuer, [STS_AUDIENCE]);
    const link = await linkFrom(ref);
    await oidcProviderStep(link, rt.runtime);

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => releaseOidcProviderStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'left-unmanaged', arn, remainingLinks: 0 } });
    expect(mutations).toEqual([]);
    expect(oidcProviderIn(rt.sandbox, SOURCE_ACCOUNT, arn)).toBeDefined();
  });

  it('waits while another link removes the provider: ConcurrentUpdateError, and no provider call', async () => {
    // Arrange
    const { ref, issuer } = newIssuer();
    const link = await linkFrom(ref);
    await rt.runtime.memberships.acquireRemovalLock(
      membership.issuer(SOURCE_ACCOUNT, issuerHostPath(issuer)),
      'lnk_leaving',
      Date.now(),
      REMOVAL_LEASE_MS,
    );

    // Act
    const { error, mutations } = await observe(rt.sandbox, () => oidcProviderStep(link, rt.runtime));

    // Assert
    expect(error).toBeInstanceOf(ConcurrentUpdateError);
    expect(mutations).toEqual([]);
  });

  it('removes nothing for a link that was never resolved', async () => {
    // Arrange
    const link = linkOf(newSpec());

    // Act
    const { value, mutations } = await observe(rt.sandbox, () => releaseOidcProviderStep(link, rt.runtime));

    // Assert
    expect(value).toEqual({ result: { action: 'nothing-to-remove' } });
    expect(mutations).toEqual([]);
  });
});
