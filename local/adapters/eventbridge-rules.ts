/**
 * The rules of the local bus, as the hub stack makes them in AWS (`infra/hub-stack.ts`):
 * a source-side NAT change (`EVENTS.natGatewayChanged`) starts the reconcile workflow with
 * the event as its input, in an execution named after the event id (EventBridge delivers at
 * least once: a second delivery of one event is the same execution). The sandbox's
 * CloudTrail feeds the bus.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { EVENTS } from '#events/registry';
import type { TetherRuntime } from '#functions/runtime';
import { cloudTrailEvent } from '#local/sandbox/cloudtrail';
import type { Sandbox } from '#local/sandbox/index';
import { LocalEventBus } from './eventbridge';

/** The bus of the local runtime, fed by the sandbox's CloudTrail when there is a sandbox. */
export function natChangeBus(rt: TetherRuntime, sandbox?: Sandbox): LocalEventBus {
  const bus = new LocalEventBus([
    {
      name: 'tether-nat-gateway-changes',
      pattern: EVENTS.natGatewayChanged,
      target: async (event) => {
        if (!rt.stateMachines.reconcile) return;
        await rt.clients.sfn().send(
          new StartExecutionCommand({
            stateMachineArn: rt.stateMachines.reconcile,
            name: `reconcile-event-${String(event.id)}`.slice(0, 80),
            input: JSON.stringify(event),
          }),
        );
      },
    },
  ]);
  sandbox?.trail.push((call, result) => {
    const event = cloudTrailEvent(call, result);
    if (event) bus.put(event);
  });
  return bus;
}
