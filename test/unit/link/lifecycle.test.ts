/**
 * The status rules of a link (`#link/lifecycle`), read as a specification: the whole
 * transition table, the named status sets, and how the two agree.
 */
import { describe, expect, it } from 'vitest';
import {
  AWAITING_APPROVER,
  canTransition,
  DELETABLE,
  IN_PROGRESS,
  isDeleted,
  ONBOARDABLE,
  RECONCILABLE,
  REDRIVABLE,
  SERVES_KUBECONFIG,
  STEP_RUNNABLE,
  UNFINISHED,
} from '#link/lifecycle';
import { LINK_STATUSES, type LinkStatus } from '#link/model';

/** The transition table as docs/architecture.md ("Link statuses") and the module state it. */
const ALLOWED: Record<LinkStatus, readonly LinkStatus[]> = {
  PENDING: ['PENDING', 'PROVISIONING', 'FAILED', 'DELETING'],
  PROVISIONING: ['PROVISIONING', 'ACTIVE', 'FAILED', 'DELETING'],
  ACTIVE: ['RECONCILING', 'DELETING', 'PROVISIONING'],
  FAILED: ['PENDING', 'PROVISIONING', 'DELETING'],
  RECONCILING: ['ACTIVE', 'DEGRADED', 'DELETING'],
  DEGRADED: ['RECONCILING', 'ACTIVE', 'DELETING', 'PROVISIONING'],
  DELETING: ['DELETING', 'DELETED', 'FAILED'],
  DELETED: [],
  AWAITING_APPROVAL: ['PENDING', 'REJECTED', 'DELETING'],
  REJECTED: [],
};

const everyPair = LINK_STATUSES.flatMap((from) => LINK_STATUSES.map((to) => [from, to] as const));
const sorted = (statuses: readonly LinkStatus[]) => [...statuses].sort();

describe('canTransition', () => {
  it.each(everyPair.filter(([from, to]) => ALLOWED[from].includes(to)))('allows %s → %s', (from, to) => {
    // Act
    const allowed = canTransition(from, to);

    // Assert
    expect(allowed).toBe(true);
  });

  it.each(everyPair.filter(([from, to]) => !ALLOWED[from].includes(to)))('refuses %s → %s', (from, to) => {
    // Act
    const allowed = canTransition(from, to);

    // Assert
    expect(allowed).toBe(false);
  });

  it('lets no status follow DELETED', () => {
    // Act
    const next = LINK_STATUSES.filter((to) => canTransition('DELETED', to));

    // Assert
    expect(next).toEqual([]);
  });

  it('reaches DELETED only through DELETING', () => {
    // Act
    const into = LINK_STATUSES.filter((from) => canTransition(from, 'DELETED'));

    // Assert
    expect(into).toEqual(['DELETING']);
  });

  it('lets every live status be deleted', () => {
    // Arrange
    const live = LINK_STATUSES.filter((s) => !isDeleted(s));

    // Act
    const cannot = live.filter((s) => !canTransition(s, 'DELETING'));

    // Assert
    expect(cannot).toEqual([]);
  });

  it('lets a workflow re-run a step of its own status (PROVISIONING, DELETING), and a stopped run queue its link again (PENDING)', () => {
    // Act
    const repeatable = LINK_STATUSES.filter((s) => canTransition(s, s));

    // Assert
    expect(repeatable).toEqual(['PENDING', 'PROVISIONING', 'DELETING']);
  });
});

describe('isDeleted', () => {
  it('holds for the statuses of a link that is gone: DELETED, and REJECTED before anything was made', () => {
    // Act
    const deleted = LINK_STATUSES.filter(isDeleted);

    // Assert
    expect(deleted).toEqual(['DELETED', 'REJECTED']);
  });
});

describe('approval', () => {
  it('lets only an approver move a waiting link on: AWAITING_APPROVAL → PENDING | REJECTED, or withdrawn', () => {
    // Act
    const next = LINK_STATUSES.filter((to) => canTransition('AWAITING_APPROVAL', to));
    const into = LINK_STATUSES.filter((from) => canTransition(from, 'AWAITING_APPROVAL'));

    // Assert
    expect(next).toEqual(['PENDING', 'DELETING', 'REJECTED']);
    expect(into).toEqual([]);
    expect(AWAITING_APPROVER.statuses).toEqual(['AWAITING_APPROVAL']);
  });

  it('starts no work on a waiting link: no workflow takes it, a restart does not re-drive it', () => {
    // Arrange
    const sets = [
      REDRIVABLE,
      RECONCILABLE,
      ONBOARDABLE,
      IN_PROGRESS,
      UNFINISHED.onboard,
      UNFINISHED.offboard,
    ];

    // Act
    const holding = sets.filter((set) => set.has('AWAITING_APPROVAL') || set.has('REJECTED'));

    // Assert
    expect(holding).toEqual([]);
  });
});

describe('the named status sets', () => {
  it.each([
    ['REDRIVABLE', REDRIVABLE, ['PENDING', 'FAILED']],
    ['SERVES_KUBECONFIG', SERVES_KUBECONFIG, ['ACTIVE', 'RECONCILING', 'DEGRADED']],
    ['DELETABLE', DELETABLE, ['ACTIVE', 'FAILED', 'DEGRADED', 'DELETING', 'AWAITING_APPROVAL']],
    ['RECONCILABLE', RECONCILABLE, ['ACTIVE', 'DEGRADED', 'FAILED']],
    ['ONBOARDABLE', ONBOARDABLE, ['PENDING', 'PROVISIONING', 'FAILED', 'ACTIVE', 'DEGRADED']],
    ['IN_PROGRESS', IN_PROGRESS, ['PENDING', 'PROVISIONING', 'RECONCILING', 'DELETING']],
    ['UNFINISHED.onboard', UNFINISHED.onboard, ['PENDING', 'PROVISIONING']],
    ['UNFINISHED.offboard', UNFINISHED.offboard, ['DELETING']],
    ['STEP_RUNNABLE.onboard', STEP_RUNNABLE.onboard, ['PROVISIONING']],
    ['STEP_RUNNABLE.offboard', STEP_RUNNABLE.offboard, ['DELETING', 'FAILED']],
  ] as const)('%s holds exactly its statuses', (_name, set, expected) => {
    // Act
    const members = LINK_STATUSES.filter((s) => set.has(s));

    // Assert
    expect(sorted(set.statuses)).toEqual(sorted(expected));
    expect(sorted(members)).toEqual(sorted(expected));
  });

  it('never holds DELETED in a set that starts work on a link', () => {
    // Arrange
    const sets = [REDRIVABLE, DELETABLE, RECONCILABLE, ONBOARDABLE, IN_PROGRESS, UNFINISHED.onboard];

    // Act
    const holding = sets.filter((set) => set.has('DELETED'));

    // Assert
    expect(holding).toEqual([]);
  });
});

describe('the named sets agree with the transition table', () => {
  it('lets every onboardable status become PROVISIONING (Start provisioning)', () => {
    // Act
    const cannot = ONBOARDABLE.statuses.filter((s) => !canTransition(s, 'PROVISIONING'));

    // Assert
    expect(cannot).toEqual([]);
  });

  it('lets every re-drivable and reconcilable status become PROVISIONING (a re-run of onboard)', () => {
    // Act
    const cannot = [...REDRIVABLE.statuses, ...RECONCILABLE.statuses].filter(
      (s) => !canTransition(s, 'PROVISIONING'),
    );

    // Assert
    expect(cannot).toEqual([]);
  });

  it('lets every deletable status become DELETING (Start deleting)', () => {
    // Act
    const cannot = DELETABLE.statuses.filter((s) => !canTransition(s, 'DELETING'));

    // Assert
    expect(cannot).toEqual([]);
  });

  it('lets a removal step record its failure: DELETING may become FAILED, and FAILED runs removal steps', () => {
    // Act
    const deletingMayFail = canTransition('DELETING', 'FAILED');
    const failedRunsRemoval = STEP_RUNNABLE.offboard.has('FAILED');

    // Assert
    expect(deletingMayFail).toBe(true);
    expect(failedRunsRemoval).toBe(true);
  });

  it('serves a kubeconfig in no status that a workflow is making or removing from scratch', () => {
    // Act
    const overlap = SERVES_KUBECONFIG.statuses.filter(
      (s) => UNFINISHED.onboard.has(s) || UNFINISHED.offboard.has(s),
    );

    // Assert
    expect(overlap).toEqual([]);
  });
});
