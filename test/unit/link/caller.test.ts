/**
 * Who asks (`#link/caller`): the principal ARNs the API takes as callers, and what STS and
 * CloudTrail see of them — the source identity and the session name of a link's run, always
 * within STS's limits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  askedBy,
  callerFromArn,
  isStsName,
  linkCallSession,
  linkSessionName,
  sourceIdentityOf,
} from '#link/caller';

const LINK_ID = 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5';

describe('callerFromArn', () => {
  it.each([
    ['arn:aws:iam::111111111111:user/alice', '111111111111'],
    ['arn:aws:iam::111111111111:user/division/alice', '111111111111'],
    ['arn:aws:sts::222222222222:assumed-role/cluster-owner/bob', '222222222222'],
    ['arn:aws:iam::000000000000:role/tether-operator', '000000000000'],
    ['arn:aws:iam::333333333333:root', '333333333333'],
    ['arn:aws-us-gov:iam::444444444444:user/carol', '444444444444'],
  ])('takes %s as a caller of account %s', (arn, accountId) => {
    expect(callerFromArn(arn)).toEqual({ arn, accountId });
  });

  it.each([
    ['alice'],
    ['arn:aws:s3:::bucket'],
    ['arn:aws:iam::11111111111:user/alice'],
    ['arn:aws:iam::111111111111:user/'],
    ['arn:aws:sts::111111111111:assumed-role/role-only'],
  ])('refuses %s', (arn) => {
    expect(callerFromArn(arn)).toBeUndefined();
  });

  it('keeps the caller’s organization when API Gateway reports one', () => {
    expect(callerFromArn('arn:aws:iam::111111111111:user/alice', 'o-abc123')).toMatchObject({
      organizationId: 'o-abc123',
    });
  });
});

describe('sourceIdentityOf', () => {
  it.each([
    ['arn:aws:sts::111111111111:assumed-role/developer/alice@example.com', 'alice@example.com'],
    ['arn:aws:iam::111111111111:user/division/bob', 'bob'],
    ['arn:aws:iam::111111111111:root', 'root'],
    ['arn:aws:iam::111111111111:user/x', 'x-'],
  ])('names %s as %s', (arn, identity) => {
    expect(sourceIdentityOf(arn)).toBe(identity);
  });

  it('is always a source identity STS accepts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (name) => {
        expect(isStsName(sourceIdentityOf(`arn:aws:iam::111111111111:user/${name}`))).toBe(true);
      }),
    );
  });
});

describe('linkSessionName', () => {
  it('names the link and tells its runs apart, within STS’s 64 characters', () => {
    // Act
    const first = linkSessionName(LINK_ID, 'req_01J9Z8Q4V6X2C3B5N7M9K1H3G5');
    const reconcile = linkSessionName(LINK_ID, `reconcile-${LINK_ID}-v7`);

    // Assert
    expect(first).toMatch(new RegExp(`^tether-${LINK_ID}-[0-9a-f]{8}$`));
    expect(reconcile).not.toBe(first);
    expect(isStsName(first)).toBe(true);
    expect(first.length).toBeLessThanOrEqual(64);
  });

  it('is the session of the link’s run, with who asked for it, else who created the link', () => {
    // Arrange
    const alice = {
      arn: 'arn:aws:sts::111111111111:assumed-role/developer/alice',
      accountId: '111111111111',
    };
    const bob = { arn: 'arn:aws:iam::222222222222:user/bob', accountId: '222222222222' };
    const run = { name: 'req_1', arn: 'arn:aws:states:::execution:onboard:req_1', workflow: 'onboard' };

    // Act / Assert
    expect(linkCallSession({ id: LINK_ID, lastExecution: run, createdBy: alice })).toEqual({
      sessionName: linkSessionName(LINK_ID, 'req_1'),
      sourceIdentity: 'alice',
    });
    expect(linkCallSession({ id: LINK_ID, createdBy: alice, requestedBy: bob }).sourceIdentity).toBe('bob');
    expect(linkCallSession({ id: LINK_ID })).toEqual({ sessionName: linkSessionName(LINK_ID, undefined) });
    expect(askedBy({ createdBy: alice, requestedBy: bob })).toEqual({ requestedBy: bob.arn });
    expect(askedBy({})).toEqual({});
  });
});
