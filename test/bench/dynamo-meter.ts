/**
 * Counts DynamoDB request units per operation, as on-demand billing would: a middleware on
 * the runtime's one DynamoDB document client asks for `ReturnConsumedCapacity: 'TOTAL'` on
 * every call and adds up what the embedded DynamoDB (dynalite) reports. Dynalite applies
 * AWS's rules for the base table (reads: 4 KB units, half for eventually consistent reads,
 * Query summed over the items then rounded; writes: 1 KB units of the larger of the old and
 * new item) but not for indexes or failed conditions, so this adds them:
 * - a write to a link item (`sk = LINK`) also writes the `byCreated` GSI (projection ALL,
 *   key unchanged after creation): the same units again;
 * - a write refused by its condition (ConditionalCheckFailedException) still consumes
 *   write units on AWS: counted as 1 WRU (the minimum; the stored item's size is unknown).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface OperationUnits {
  calls: number;
  /** Items read: GetItem's item, a Query's or Scan's items read before any filter (`ScannedCount`), BatchGetItem's items. */
  items: number;
  rru: number;
  wru: number;
  conditionalFailures: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

function sortKey(input: any): string | undefined {
  const sk = input?.Key?.sk ?? input?.Item?.sk;
  return typeof sk === 'string' ? sk : typeof sk?.S === 'string' ? sk.S : undefined;
}

function itemsRead(operation: string, output: any): number {
  if (operation === 'GetItem') return output?.Item ? 1 : 0;
  if (operation === 'Query' || operation === 'Scan') return output?.ScannedCount ?? output?.Count ?? 0;
  if (operation === 'BatchGetItem')
    return Object.values((output?.Responses ?? {}) as Record<string, unknown[]>).reduce(
      (n, r) => n + r.length,
      0,
    );
  return 0;
}

export class DynamoMeter {
  #byOperation = new Map<string, OperationUnits>();

  /** Installs the counting middleware on the client (once per client). */
  attach(client: DynamoDBDocumentClient): void {
    client.middlewareStack.add(
      (next, context) => async (args: any) => {
        const operation = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        if (args.input && args.input.ReturnConsumedCapacity === undefined) {
          args.input.ReturnConsumedCapacity = 'TOTAL';
        }
        const units = this.#entry(operation);
        units.calls++;
        const linkItem = sortKey(args.input) === 'LINK';
        try {
          const result = await next(args);
          const consumed = (result.output as any)?.ConsumedCapacity?.CapacityUnits;
          const n = typeof consumed === 'number' ? consumed : 0;
          if (WRITES.has(operation)) units.wru += linkItem ? 2 * n : n;
          else units.rru += n;
          units.items += itemsRead(operation, result.output);
          return result;
        } catch (err) {
          if ((err as Error).name === 'ConditionalCheckFailedException') {
            units.conditionalFailures++;
            units.wru += 1;
          }
          throw err;
        }
      },
      { step: 'serialize', name: 'tetherBenchDynamoMeter', priority: 'high' },
    );
  }

  #entry(operation: string): OperationUnits {
    let e = this.#byOperation.get(operation);
    if (!e) {
      e = { calls: 0, items: 0, rru: 0, wru: 0, conditionalFailures: 0 };
      this.#byOperation.set(operation, e);
    }
    return e;
  }

  reset(): void {
    this.#byOperation.clear();
  }

  /** A copy of the counts so far, per operation. */
  snapshot(): Record<string, OperationUnits> {
    return Object.fromEntries([...this.#byOperation].map(([k, v]) => [k, { ...v }]));
  }

  static total(snapshot: Record<string, OperationUnits>): OperationUnits {
    const t = { calls: 0, items: 0, rru: 0, wru: 0, conditionalFailures: 0 };
    for (const u of Object.values(snapshot)) {
      t.calls += u.calls;
      t.items += u.items ?? 0;
      t.rru += u.rru;
      t.wru += u.wru;
      t.conditionalFailures += u.conditionalFailures;
    }
    return t;
  }
}
