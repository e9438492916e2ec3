/**
 * `runEvents` (`GET /links/{id}/runs`): AWS's execution history, as the real GetExecutionHistory
 * answers it (TaskScheduled → TaskStarted → TaskFailed → TaskScheduled … chained by
 * previousEventId), made readable: each state with its timestamps, each failed attempt with
 * its error, each retry with its attempt, and the execution's end.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { runEvents } from '#api/operations';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

/** Two branches interleaved, as a Parallel state's history is: attribution follows previousEventId, not order. */
const HISTORY: HistoryEvent[] = [
  { id: 1, previousEventId: 0, timestamp: at(0), type: 'ExecutionStarted' },
  {
    id: 2,
    previousEventId: 1,
    timestamp: at(1),
    type: 'TaskStateEntered',
    stateEnteredEventDetails: { name: 'Ensure access entry' },
  },
  {
    id: 3,
    previousEventId: 1,
    timestamp: at(1),
    type: 'TaskStateEntered',
    stateEnteredEventDetails: { name: 'Ensure OIDC provider' },
  },
  {
    id: 4,
    previousEventId: 2,
    timestamp: at(1),
    type: 'TaskScheduled',
    taskScheduledEventDetails: {
      resource: 'x',
      resourceType: 'lambda',
      region: 'eu-west-1',
      parameters: '{}',
    },
  },
  {
    id: 5,
    previousEventId: 3,
    timestamp: at(1),
    type: 'TaskScheduled',
    taskScheduledEventDetails: {
      resource: 'y',
      resourceType: 'lambda',
      region: 'eu-west-1',
      parameters: '{}',
    },
  },
  { id: 6, previousEventId: 4, timestamp: at(2), type: 'TaskStarted' },
  {
    id: 7,
    previousEventId: 6,
    timestamp: at(3),
    type: 'TaskFailed',
    taskFailedEventDetails: {
      resource: 'x',
      resourceType: 'lambda',
      error: 'ThrottledError',
      cause: 'Rate exceeded',
    },
  },
  { id: 8, previousEventId: 5, timestamp: at(3), type: 'TaskSucceeded' },
  {
    id: 9,
    previousEventId: 8,
    timestamp: at(3),
    type: 'TaskStateExited',
    stateExitedEventDetails: { name: 'Ensure OIDC provider' },
  },
  {
    id: 10,
    previousEventId: 7,
    timestamp: at(5),
    type: 'TaskScheduled',
    taskScheduledEventDetails: {
      resource: 'x',
      resourceType: 'lambda',
      region: 'eu-west-1',
      parameters: '{}',
    },
  },
  { id: 11, previousEventId: 10, timestamp: at(6), type: 'TaskSucceeded' },
  {
    id: 12,
    previousEventId: 11,
    timestamp: at(6),
    type: 'TaskStateExited',
    stateExitedEventDetails: { name: 'Ensure access entry' },
  },
  { id: 13, previousEventId: 12, timestamp: at(7), type: 'ExecutionSucceeded' },
];

describe('runEvents', () => {
  it('names each event’s state by following previousEventId, and shows a failed attempt and its retry', () => {
    expect(runEvents(HISTORY)).toEqual([
      { timestamp: at(0).toISOString(), type: 'ExecutionStarted' },
      { timestamp: at(1).toISOString(), step: 'Ensure access entry', type: 'TaskStateEntered' },
      { timestamp: at(1).toISOString(), step: 'Ensure OIDC provider', type: 'TaskStateEntered' },
      {
        timestamp: at(3).toISOString(),
        step: 'Ensure access entry',
        type: 'TaskFailed',
        detail: 'ThrottledError: Rate exceeded',
      },
      { timestamp: at(3).toISOString(), step: 'Ensure OIDC provider', type: 'TaskStateExited' },
      {
        timestamp: at(5).toISOString(),
        step: 'Ensure access entry',
        type: 'TaskRetried',
        detail: 'attempt 2',
      },
      { timestamp: at(6).toISOString(), step: 'Ensure access entry', type: 'TaskStateExited' },
      { timestamp: at(7).toISOString(), type: 'ExecutionSucceeded' },
    ]);
  });
});
