/**
 * The names both stacks agree on without referencing each other: the hub's function roles
 * (which the agent role trusts by exact ARN), the hub bus, the agent role and the boundary.
 * The member stack is deployed to other accounts by a StackSet, so it cannot import values
 * from the hub stack; it derives them from the configuration instead.
 */
import type { TetherConfig } from './config';

/** Path of the hub's own roles: outside `/tether/`, where the agent role may write. */
export const HUB_ROLE_PATH = '/tether-hub/';
/** Path of the member stack's infrastructure roles (the event forwarder): outside `/tether/` too. */
export const INFRA_ROLE_PATH = '/tether-infra/';
/** Name of the hub's event bus. */
export const HUB_BUS_NAME = 'tether-hub';
/** Name of the role that forwards NAT gateway events from a member account to the hub bus. */
export const FORWARDER_ROLE_NAME = 'tether-event-forwarder';
/** Name of the API function (and its role). */
export const API_FUNCTION = 'api';
/** Name of the drift sweep's function (and its role). */
export const SWEEP_FUNCTION = 'sweep-links';

/** Name of a hub function (and of its role), from its registry name. */
export function hubFunctionName(name: string): string {
  return `tether-${name}`;
}

/** ARN of the role of a hub function. */
export function hubRoleArn(config: TetherConfig, name: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${config.hub.account}:role${HUB_ROLE_PATH}${hubFunctionName(name)}`;
}

/** ARN of the hub bus. */
export function hubBusArn(config: TetherConfig, partition = 'aws'): string {
  return `arn:${partition}:events:${config.hub.region}:${config.hub.account}:event-bus/${HUB_BUS_NAME}`;
}
