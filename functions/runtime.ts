/**
 * What a handler needs from its environment: the client factory, the link table, a clock
 * and the workflow ARNs. In AWS it is built once per container from environment variables;
 * the local runtime sets its own with {@link configureRuntime} before any handler runs.
 */
import { AwsClients } from '#aws/clients';
import { DEFAULT_TABLE_NAME, LinkRepository } from '#store/links';

export interface TetherRuntime {
  readonly clients: AwsClients;
  readonly links: LinkRepository;
  readonly now: () => Date;
  /** ARNs of the state machines, by workflow name. */
  readonly stateMachines: {
    readonly onboard: string;
    readonly offboard?: string;
    readonly reconcile?: string;
  };
}

let current: TetherRuntime | undefined;

/** Replaces the runtime (local mode, tests). */
export function configureRuntime(runtime: TetherRuntime): void {
  current = runtime;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set`);
  return value;
}

/** The runtime: configured, or built from the Lambda environment on first use. */
export function runtime(): TetherRuntime {
  if (current) return current;
  const clients = new AwsClients({
    hubAccountId: required('TETHER_HUB_ACCOUNT_ID'),
    hubRegion: process.env.AWS_REGION ?? required('TETHER_HUB_REGION'),
    ...(process.env.TETHER_AGENT_ROLE_NAME ? { agentRoleName: process.env.TETHER_AGENT_ROLE_NAME } : {}),
  });
  current = {
    clients,
    links: new LinkRepository(clients.dynamodb(), process.env.TETHER_TABLE_NAME ?? DEFAULT_TABLE_NAME),
    now: () => new Date(),
    stateMachines: {
      onboard: process.env.TETHER_ONBOARD_STATE_MACHINE_ARN ?? '',
      ...(process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN
        ? { offboard: process.env.TETHER_OFFBOARD_STATE_MACHINE_ARN }
        : {}),
    },
  };
  return current;
}
