/**
 * Step Functions on one machine: the ASL files of `statemachines/`, with the same
 * substitutions CDK passes, run by `aws-local-stepfunctions`; every Task state runs its real
 * Lambda handler in-process. It answers the Step Functions API calls Tether makes
 * (StartExecution with AWS's name semantics, DescribeExecution, ListExecutions,
 * GetExecutionHistory) under the real `SFNClient`, and keeps executions in the data
 * directory (`executions/`, one file each, written atomically) so the history of a run
 * survives a restart; a damaged file stops the start with its name.
 */
import '#local/polyfills';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Pluggable } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { DataDirectoryDamagedError, readJsonStore, writeFileAtomic } from '#local/data-dir-lock';
import { WORKFLOW_FUNCTIONS, type WorkflowFunction } from '#workflow/registry';

export type WorkflowName = 'onboard' | 'offboard' | 'reconcile';
export const WORKFLOWS: readonly WorkflowName[] = ['onboard', 'offboard', 'reconcile'];

export interface HistoryEvent {
  readonly type: string;
  readonly timestamp: string;
  readonly state?: string;
  readonly stateType?: string;
  readonly index?: number;
  readonly error?: string;
  readonly cause?: string;
  readonly retry?: unknown;
}

export interface LocalExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly workflow: WorkflowName;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly input: string;
  output?: string;
  error?: string;
  cause?: string;
  readonly startDate: string;
  stopDate?: string;
  readonly events: HistoryEvent[];
}

export class LocalSfnError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export interface LocalStepFunctionsOptions {
  readonly accountId: string;
  readonly region: string;
  /** Where executions are kept; none = memory only. */
  readonly dataDir?: string;
  /** Retry waits in ms instead of the ASL's (tests, the demo); undefined = as written. */
  readonly retryIntervalMs?: number;
  readonly statemachinesDir?: string;
  /** Called for every history event as it happens (the `npm start` progress view). */
  readonly onEvent?: (execution: LocalExecution, event: HistoryEvent) => void;
}

/** Local ARN of a workflow function: what `${…FunctionArn}` becomes locally. */
export function localFunctionArn(region: string, accountId: string, fn: WorkflowFunction): string {
  return `arn:aws:lambda:${region}:${accountId}:function:tether-${fn.name}`;
}

/** Reads an ASL file and applies `${Key}` substitutions, as CDK's DefinitionSubstitutions do. */
export function loadDefinition(
  path: string,
  substitutions: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const text = readFileSync(path, 'utf8').replace(/\$\{(\w+)\}/g, (whole, key: string) => {
    const value = substitutions[key];
    if (value === undefined) throw new Error(`${path}: no substitution for ${whole}`);
    return value;
  });
  return JSON.parse(text) as Record<string, unknown>;
}

/** Every Task state name in a definition (Map and Parallel included) with its Resource. */
export function taskStates(definition: Record<string, unknown>): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (states: Record<string, any>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') found.set(name, state.Resource);
      for (const branch of state.Branches ?? []) walk(branch.States);
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) walk(processor.States);
    }
  };
  walk((definition as { States: Record<string, unknown> }).States);
  return found;
}

/**
 * The definitions (their JSON text, substitutions made) that asl-validator has found valid in
 * this process. It compiles its JSON schema anew on every validation (a few hundred ms of the
 * start of a runtime), and a process that starts runtimes again and again (a restart after
 * each crash point of the crash campaign, a test's next runtime) builds the same machines.
 */
const VALIDATED = new Set<string>();

function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionName,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * One execution of the run history, read back. A file that is not one (truncated, corrupt) is
 * a {@link DataDirectoryDamagedError} naming it.
 */
function readExecution(file: string): LocalExecution {
  const what = 'The run history file';
  const remedy = "Restore it from a backup, or delete it to go on without that run's history";
  const execution = readJsonStore(file, what, remedy) as Partial<LocalExecution> | null;
  const whole =
    typeof execution === 'object' &&
    execution !== null &&
    typeof execution.executionArn === 'string' &&
    typeof execution.stateMachineArn === 'string' &&
    typeof execution.name === 'string' &&
    WORKFLOWS.includes(execution.workflow as WorkflowName) &&
    typeof execution.status === 'string' &&
    typeof execution.input === 'string' &&
    typeof execution.startDate === 'string' &&
    Array.isArray(execution.events);
  if (!whole)
    throw new DataDirectoryDamagedError({ what, file, problem: 'is not a whole execution', remedy });
  return execution as LocalExecution;
}

/**
 * The local Step Functions service.
 *
 * @example
 * const sfn = new LocalStepFunctions({ accountId: '000000000000', region: 'ap-southeast-1' });
 * const { executionArn } = await sfn.startExecution({ stateMachineArn: sfn.stateMachineArn('onboard'), name: 'r1', input: '{}' });
 * await sfn.waitFor(executionArn);
 */
export class LocalStepFunctions {
  readonly #options: LocalStepFunctionsOptions;
  readonly #machines = new Map<
    string,
    { workflow: WorkflowName; machine: StateMachine; handlers: Record<string, (input: any) => Promise<any>> }
  >();
  readonly #executions = new Map<string, LocalExecution>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #aborts = new Map<string, () => void>();
  /** Handler invocations still going: an aborted execution does not stop a running Lambda. */
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: LocalStepFunctionsOptions) {
    this.#options = options;
    const substitutions = Object.fromEntries(
      WORKFLOW_FUNCTIONS.map((fn) => [
        fn.substitution,
        localFunctionArn(options.region, options.accountId, fn),
      ]),
    );
    const byArn = new Map(
      WORKFLOW_FUNCTIONS.map((fn) => [localFunctionArn(options.region, options.accountId, fn), fn]),
    );
    const dir = options.statemachinesDir ?? new URL('../../statemachines/', import.meta.url).pathname;
    for (const workflow of WORKFLOWS) {
      const definition = loadDefinition(join(dir, `${workflow}.asl.json`), substitutions);
      const handlers: Record<string, (input: any) => Promise<any>> = {};
      for (const [state, resource] of taskStates(definition)) {
        const fn = byArn.get(resource);
        if (!fn)
          throw new Error(
            `${workflow}.asl.json: state "${state}" names ${resource}, which no function provides`,
          );
        // JSON round trip: a Lambda sees its input and returns its output as JSON.
        handlers[state] = async (input) => {
          const invocation = fn.handler(
            JSON.parse(JSON.stringify(input)),
            lambdaContext(`tether-${fn.name}`),
          );
          this.#inFlight.add(invocation);
          try {
            return JSON.parse(JSON.stringify((await invocation) ?? null));
          } finally {
            this.#inFlight.delete(invocation);
          }
        };
      }
      // Validated once per process: a definition already found valid here is the same text.
      const text = JSON.stringify(definition);
      const machine = new StateMachine(definition as any, {
        validationOptions: VALIDATED.has(text) ? { noValidate: true } : { checkArn: true, checkPaths: true },
      });
      VALIDATED.add(text);
      this.#machines.set(this.stateMachineArn(workflow), { workflow, machine, handlers });
    }
    if (options.dataDir) {
      mkdirSync(this.#dir(), { recursive: true });
      for (const file of readdirSync(this.#dir()).sort()) {
        // A temporary file of a write a crash cut short: the execution's file itself is whole.
        if (file.endsWith('.tmp')) rmSync(join(this.#dir(), file), { force: true });
        if (!file.endsWith('.json')) continue;
        const execution = readExecution(join(this.#dir(), file));
        // A run that was going when the process stopped did not finish: say so.
        if (execution.status === 'RUNNING') {
          execution.status = 'ABORTED';
          execution.stopDate = execution.stopDate ?? new Date().toISOString();
          execution.error = 'LocalRuntimeStopped';
        }
        this.#executions.set(execution.executionArn, execution);
      }
    }
  }

  stateMachineArn(workflow: WorkflowName): string {
    return `arn:aws:states:${this.#options.region}:${this.#options.accountId}:stateMachine:tether-${workflow}`;
  }

  #dir(): string {
    return join(this.#options.dataDir ?? '.', 'executions');
  }

  /** Saves the execution atomically (temporary file, flushed, renamed): a crash never tears it. */
  #persist(execution: LocalExecution): void {
    if (!this.#options.dataDir) return;
    writeFileAtomic(
      join(this.#dir(), `${execution.workflow}-${execution.name}.json`),
      JSON.stringify(execution),
    );
  }

  /** StartExecution, with Standard workflows' name semantics (docs/aws-facts.md#step-functions). */
  async startExecution(input: { stateMachineArn?: string; name?: string; input?: string }) {
    const entry = this.#machines.get(input.stateMachineArn ?? '');
    if (!entry)
      throw new LocalSfnError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${input.stateMachineArn}'`,
      );
    const name = input.name ?? randomUUID();
    const executionArn = `${input.stateMachineArn!.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.#executions.get(executionArn);
    const text = input.input ?? '{}';
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === text) {
        return { executionArn, startDate: new Date(existing.startDate) };
      }
      throw new LocalSfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: input.stateMachineArn!,
      name,
      workflow: entry.workflow,
      status: 'RUNNING',
      input: text,
      startDate: new Date().toISOString(),
      events: [],
    };
    this.#executions.set(executionArn, execution);
    this.#persist(execution);
    const run = entry.machine.run(JSON.parse(text), {
      overrides: {
        taskResourceLocalHandlers: entry.handlers,
        ...(this.#options.retryIntervalMs !== undefined
          ? {
              retryIntervalOverrides: Object.fromEntries(
                [...Object.keys(entry.handlers)].map((s) => [s, this.#options.retryIntervalMs!]),
              ),
            }
          : {}),
      },
      context: {
        Execution: { Id: executionArn, Name: name, Input: JSON.parse(text), StartTime: execution.startDate },
        StateMachine: { Id: input.stateMachineArn!, Name: `tether-${entry.workflow}` },
      } as any,
      noThrowOnAbort: true,
    });
    this.#aborts.set(executionArn, run.abort);
    const done = (async () => {
      const collect = (async () => {
        for await (const event of run.eventLogs) {
          const e = event as any;
          const recorded: HistoryEvent = {
            type: e.type,
            timestamp: new Date(e.timestamp).toISOString(),
            ...(e.state ? { state: e.state.name, stateType: e.state.type } : {}),
            ...(e.parentState ? { state: e.parentState.name, stateType: e.parentState.type } : {}),
            ...(e.index !== undefined ? { index: e.index } : {}),
            ...(e.Error ? { error: String(e.Error) } : {}),
            ...(e.Cause !== undefined ? { cause: String(e.Cause) } : {}),
            ...(e.retry ? { retry: e.retry } : {}),
          };
          execution.events.push(recorded);
          this.#options.onEvent?.(execution, recorded);
        }
      })();
      try {
        const output = await run.result;
        await collect;
        if (execution.status === 'RUNNING') {
          execution.status = 'SUCCEEDED';
          execution.output = JSON.stringify(output ?? null);
        }
      } catch (err) {
        await collect.catch(() => undefined);
        execution.status = 'FAILED';
        execution.error = (err as Error).name;
        execution.cause = (err as Error).message;
      } finally {
        execution.stopDate = new Date().toISOString();
        this.#persist(execution);
        this.#running.delete(executionArn);
        this.#aborts.delete(executionArn);
      }
    })();
    this.#running.set(executionArn, done);
    return { executionArn, startDate: new Date(execution.startDate) };
  }

  describeExecution(input: { executionArn?: string }) {
    const e = this.#executions.get(input.executionArn ?? '');
    if (!e)
      throw new LocalSfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: new Date(e.startDate),
      ...(e.stopDate ? { stopDate: new Date(e.stopDate) } : {}),
      input: e.input,
      ...(e.output !== undefined ? { output: e.output } : {}),
      ...(e.error ? { error: e.error } : {}),
      ...(e.cause ? { cause: e.cause } : {}),
    };
  }

  listExecutions(input: { stateMachineArn?: string; statusFilter?: string }) {
    const executions = [...this.#executions.values()]
      .filter((e) => !input.stateMachineArn || e.stateMachineArn === input.stateMachineArn)
      .filter((e) => !input.statusFilter || e.status === input.statusFilter)
      .map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: new Date(e.startDate),
        ...(e.stopDate ? { stopDate: new Date(e.stopDate) } : {}),
      }));
    return { executions };
  }

  /**
   * GetExecutionHistory in AWS's shapes, from the events the engine recorded: a state's
   * `<Type>StateEntered`/`<Type>StateExited` with its name, a failed attempt of a Task state
   * as `TaskFailed` (error, cause), and each retry as a new `TaskScheduled` of that state —
   * what AWS shows — each pointing at its state's entered event by `previousEventId`. The
   * engine's `StateCaught` has no AWS event and is left out. One page: no `nextToken`.
   */
  getExecutionHistory(input: { executionArn?: string; reverseOrder?: boolean }) {
    const e = this.#executions.get(input.executionArn ?? '');
    if (!e)
      throw new LocalSfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`);
    const events: Record<string, unknown>[] = [];
    const entered = new Map<string, number>(); // state name (and Map index) → its entered event id
    const push = (
      event: HistoryEvent,
      type: string,
      details: Record<string, unknown> = {},
      previous?: number,
    ) => {
      const id = events.length + 1;
      events.push({
        id,
        previousEventId: previous ?? id - 1,
        timestamp: new Date(event.timestamp),
        type,
        ...details,
      });
      return id;
    };
    for (const event of e.events) {
      const key = `${event.state ?? ''}#${event.index ?? ''}`;
      const type = event.stateType ?? 'Task';
      switch (event.type) {
        case 'ExecutionStarted':
          push(event, 'ExecutionStarted', { executionStartedEventDetails: { input: e.input } }, 0);
          break;
        case 'ExecutionSucceeded':
          push(event, 'ExecutionSucceeded', {
            executionSucceededEventDetails: { output: e.output ?? 'null' },
          });
          break;
        case 'ExecutionFailed':
          push(event, 'ExecutionFailed', {
            executionFailedEventDetails: { error: event.error, cause: event.cause },
          });
          break;
        case 'ExecutionTerminated':
          push(event, 'ExecutionAborted', { executionAbortedEventDetails: {} });
          break;
        case 'StateEntered':
          entered.set(
            key,
            push(event, `${type}StateEntered`, { stateEnteredEventDetails: { name: event.state } }),
          );
          break;
        case 'StateExited':
          push(
            event,
            `${type}StateExited`,
            { stateExitedEventDetails: { name: event.state } },
            entered.get(key),
          );
          break;
        case 'StateFailed':
          if (type === 'Task') {
            push(
              event,
              'TaskFailed',
              {
                taskFailedEventDetails: {
                  resourceType: 'lambda',
                  resource: event.state,
                  error: event.error,
                  cause: event.cause,
                },
              },
              entered.get(key),
            );
          } else {
            push(event, `${type}StateFailed`, {}, entered.get(key));
          }
          break;
        case 'StateRetried':
          push(
            event,
            'TaskScheduled',
            {
              taskScheduledEventDetails: {
                resourceType: 'lambda',
                resource: event.state,
                region: 'local',
                parameters: '{}',
              },
            },
            entered.get(key),
          );
          break;
        case 'MapIterationStarted':
        case 'MapIterationSucceeded':
        case 'MapIterationFailed':
          push(event, event.type, {
            mapIterationStartedEventDetails: { name: event.state, index: event.index },
          });
          break;
        default:
          break; // StateCaught, ParallelBranch*: no AWS event of their own
      }
    }
    return { events: input.reverseOrder ? events.reverse() : events };
  }

  /** The events as this runtime records them (not AWS's event shapes). */
  history(executionArn: string): readonly HistoryEvent[] {
    return this.#executions.get(executionArn)?.events ?? [];
  }

  execution(executionArn: string): LocalExecution | undefined {
    return this.#executions.get(executionArn);
  }

  /** Resolves when the execution has stopped. */
  async waitFor(executionArn: string): Promise<LocalExecution> {
    await this.#running.get(executionArn);
    const e = this.#executions.get(executionArn);
    if (!e) throw new LocalSfnError('ExecutionDoesNotExist', executionArn);
    return e;
  }

  /** Resolves when no execution and no handler runs. */
  async idle(): Promise<void> {
    while (this.#running.size || this.#inFlight.size) {
      await Promise.allSettled([...this.#running.values(), ...this.#inFlight]);
    }
  }

  /** Aborts every running execution (a simulated crash or a shutdown). */
  abortAll(): void {
    for (const abort of this.#aborts.values()) abort();
  }

  /** Routes an SFN SDK operation here (used by the client plug-in). */
  async invoke(operation: string, input: any): Promise<Record<string, unknown>> {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(input);
      case 'DescribeExecution':
        return this.describeExecution(input);
      case 'ListExecutions':
        return this.listExecutions(input);
      case 'GetExecutionHistory':
        return this.getExecutionHistory(input);
      default:
        throw new LocalSfnError(
          'UnsupportedOperation',
          `The local Step Functions does not implement ${operation}`,
        );
    }
  }
}

/**
 * An initialize-step middleware that answers Step Functions calls from the local engine, so
 * the real `SFNClient` of the client factory reaches `sfn` instead of the network.
 *
 * @example
 * sfnClient.middlewareStack.use(localSfnPlugin(stepFunctions));
 */
export function localSfnPlugin(sfn: LocalStepFunctions): Pluggable<any, any> {
  return {
    applyToStack(stack) {
      stack.add(
        (_next, context) => async (args: any) => {
          const operation = String(context.commandName ?? '').replace(/Command$/, '');
          const output = await sfn.invoke(operation, args.input);
          return { output: { ...output, $metadata: { httpStatusCode: 200 } }, response: {} };
        },
        { step: 'initialize', name: 'tetherLocalStepFunctions', priority: 'high' },
      );
    },
  };
}
