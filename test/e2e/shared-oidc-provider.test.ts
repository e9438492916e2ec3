/**
 * An IAM OIDC provider is an account-wide resource: by the time Tether's last link of the
 * issuer goes, a role Tether did not make may trust it (a person's IRSA role, another
 * tool's). Deleting the provider would not touch that role's trust but would break it (IAM
 * API reference, DeleteOpenIDConnectProvider), so Tether keeps the provider while any role of
 * the account trusts it, and says which.
 */
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  GetOpenIDConnectProviderCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const SOURCE = '111111111111';

let h: Harness;
let providerArn: string;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function onboardAndOffboard() {
  const link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
  expect(link.status).toBe('ACTIVE');
  providerArn = link.outputs.oidcProviderArn;
  await h.api('DELETE', `/links/${link.id}`);
  return h.settle(link.id);
}

async function providerExists(): Promise<boolean> {
  try {
    await byHand(h.rt.sandbox, SOURCE, 'ap-southeast-1').iam.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
    );
    return true;
  } catch (err) {
    if (err instanceof NoSuchEntityException) return false;
    throw err;
  }
}

describe("the OIDC provider when Tether's last link of the issuer goes", () => {
  it('is kept while a role Tether did not make trusts it, and the offboard result names that role', async () => {
    // Arrange: while the link lives, a person makes an IRSA role of their own on the provider.
    const link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
    providerArn = link.outputs.oidcProviderArn;
    const host = providerArn.split(':oidc-provider/')[1];
    await byHand(h.rt.sandbox, SOURCE, 'ap-southeast-1').iam.send(
      new CreateRoleCommand({
        RoleName: 'billing-reader',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Federated: providerArn },
              Action: 'sts:AssumeRoleWithWebIdentity',
              Condition: {
                StringEquals: {
                  [`${host}:sub`]: 'system:serviceaccount:billing:reader',
                  [`${host}:aud`]: 'sts.amazonaws.com',
                },
              },
            },
          ],
        }),
      }),
    );
    // Act
    await h.api('DELETE', `/links/${link.id}`);
    const deleted = await h.settle(link.id);
    // Assert
    expect(deleted.status).toBe('DELETED');
    expect(deleted.steps.releaseOidcProvider.result).toMatchObject({
      action: 'kept',
      arn: providerArn,
      detail: 'trusted by billing-reader',
      trustedBy: ['billing-reader'],
      remainingLinks: 0,
    });
    expect(await providerExists()).toBe(true);
  });

  it('is used again, unchanged, by the next link of the issuer', async () => {
    const link = await h.settle((await h.api('POST', '/links', demoRequest())).body.links[0].id);
    expect(link.status).toBe('ACTIVE');
    expect(link.steps.oidcProvider.result.action).toBe('unchanged');
    await h.api('DELETE', `/links/${link.id}`);
    expect((await h.settle(link.id)).steps.releaseOidcProvider.result.action).toBe('kept');
  });

  it('goes with the last link once no role trusts it any more', async () => {
    // Arrange
    await byHand(h.rt.sandbox, SOURCE, 'ap-southeast-1').iam.send(
      new DeleteRoleCommand({ RoleName: 'billing-reader' }),
    );
    // Act
    const deleted = await onboardAndOffboard();
    // Assert
    expect(deleted.steps.releaseOidcProvider.result).toMatchObject({ action: 'deleted', arn: providerArn });
    expect(await providerExists()).toBe(false);
  });
});
