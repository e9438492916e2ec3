/**
 * Every event Tether listens to or emits, declared once: the infra rules,
 * the local bus and the tests read this file. Reconciliation on NAT changes is driven by
 * these patterns (docs/architecture.md#reconcile).
 *
 * EC2 emits no native EventBridge event for NAT gateway changes: the rule matches the
 * CloudTrail-delivered API calls, which arrive before a new gateway is available and on a
 * best-effort basis, so a scheduled sweep stays necessary (docs/aws-facts.md#nat-gateway-change-events).
 */

export interface EventPattern {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** The EC2 calls that change which public IPs a VPC's NAT gateways use. */
export const NAT_GATEWAY_EVENT_NAMES = [
  'CreateNatGateway',
  'DeleteNatGateway',
  'AssociateNatGatewayAddress',
  'DisassociateNatGatewayAddress',
  'AssociateAddress',
  'DisassociateAddress',
] as const;

export const EVENTS = {
  /** A NAT gateway of a member account changed (forwarded from the member account to the hub bus). */
  natGatewayChanged: {
    source: ['aws.ec2'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['ec2.amazonaws.com'], eventName: [...NAT_GATEWAY_EVENT_NAMES] },
  },
} as const satisfies Record<string, EventPattern>;

/** Sample events, one per case, under `events/samples/<source>/<case>.json`. */
export const SAMPLES_DIR = new URL('./samples/', import.meta.url);
