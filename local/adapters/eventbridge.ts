/**
 * EventBridge on one machine: a bus with rules, each an event pattern of `events/registry.ts`
 * evaluated by `events/pattern.ts`, and a target called with every event it matches —
 * asynchronously, as EventBridge delivers. The local runtime puts on it what the sandbox's
 * CloudTrail records (`local/sandbox/cloudtrail.ts`), so a NAT gateway replaced in a source
 * account starts the reconcile of its links, as the hub bus's rule does in AWS.
 */
import { type EventPatternJson, matchesPattern } from '#events/pattern';

/** A rule of the bus: what it matches and where it sends it. */
export interface LocalRule {
  readonly name: string;
  readonly pattern: EventPatternJson;
  readonly target: (event: Record<string, unknown>) => Promise<unknown>;
}

/** One delivery, as the bus keeps it. */
export interface Delivery {
  readonly rule: string;
  readonly eventId: string;
  readonly eventName?: string;
  readonly ok?: boolean;
  readonly error?: string;
}

/**
 * The local event bus.
 *
 * @example
 * const bus = new LocalEventBus([{ name: 'nat', pattern: EVENTS.natGatewayChanged, target: start }]);
 * bus.put(event); await bus.idle();
 */
export class LocalEventBus {
  readonly #rules: LocalRule[];
  readonly #deliveries: Delivery[] = [];
  #pending = new Set<Promise<unknown>>();

  constructor(rules: readonly LocalRule[] = []) {
    this.#rules = [...rules];
  }

  addRule(rule: LocalRule): void {
    this.#rules.push(rule);
  }

  /** Puts an event on the bus; returns the names of the rules it matched (delivery is asynchronous). */
  put(event: Record<string, unknown>): string[] {
    const matched = this.#rules.filter((r) => matchesPattern(r.pattern, event));
    for (const rule of matched) {
      const delivery: { -readonly [K in keyof Delivery]: Delivery[K] } = {
        rule: rule.name,
        eventId: String(event.id ?? ''),
        ...(typeof (event.detail as { eventName?: unknown })?.eventName === 'string'
          ? { eventName: (event.detail as { eventName: string }).eventName }
          : {}),
      };
      this.#deliveries.push(delivery);
      const run = Promise.resolve()
        .then(() => rule.target(event))
        .then(
          () => {
            delivery.ok = true;
          },
          (err: unknown) => {
            delivery.ok = false;
            delivery.error = (err as Error).message;
          },
        )
        .finally(() => this.#pending.delete(run));
      this.#pending.add(run);
    }
    return matched.map((r) => r.name);
  }

  /** Every delivery so far, oldest first. */
  deliveries(): readonly Delivery[] {
    return this.#deliveries.map((d) => ({ ...d }));
  }

  /** Resolves once every delivery made so far has reached its target. */
  async idle(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }
}
