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

/** A successful EC2 API call, as CloudTrail delivers it to EventBridge, by name. */
const ec2Call = (...eventNames: string[]) =>
  ({
    source: ['aws.ec2'],
    'detail-type': ['AWS API Call via CloudTrail'],
    // A call EC2 refused (errorCode present) changed nothing.
    detail: { eventSource: ['ec2.amazonaws.com'], eventName: eventNames, errorCode: [{ exists: false }] },
  }) as const;

/**
 * One pattern per kind of change of a VPC's egress IPs, each with its sample under
 * `samples/aws.ec2/<file>` (the `sample` field). Every one drives the same reconcile of the
 * VPC's links; they are apart so that each is tested, counted and read on its own.
 */
export const NAT_CHANGE_EVENTS = {
  /** A NAT gateway was made (pending: its IPs are read once it is available). */
  natGatewayCreated: { pattern: ec2Call('CreateNatGateway'), sample: 'create-nat-gateway.json' },
  /**
   * A NAT gateway creation EC2 refused: nothing changed, but the gateway it was to replace
   * may be gone already; the reconcile reads what is there.
   */
  natGatewayCreationFailed: {
    pattern: {
      source: ['aws.ec2'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['ec2.amazonaws.com'],
        eventName: ['CreateNatGateway'],
        errorCode: [{ exists: true }],
      },
    },
    sample: 'create-nat-gateway-failed.json',
  },
  /** A NAT gateway was deleted (its IPs stop being used). */
  natGatewayDeleted: { pattern: ec2Call('DeleteNatGateway'), sample: 'delete-nat-gateway.json' },
  /** Secondary Elastic IPs associated with a public NAT gateway. */
  natGatewayAddressAssociated: {
    pattern: ec2Call('AssociateNatGatewayAddress'),
    sample: 'associate-nat-gateway-address.json',
  },
  /** Secondary Elastic IPs taken off a public NAT gateway. */
  natGatewayAddressDisassociated: {
    pattern: ec2Call('DisassociateNatGatewayAddress'),
    sample: 'disassociate-nat-gateway-address.json',
  },
  /** Secondary private addresses of a NAT gateway assigned or unassigned. */
  natGatewayPrivateAddressChanged: {
    pattern: ec2Call('AssignPrivateNatGatewayAddress', 'UnassignPrivateNatGatewayAddress'),
    sample: 'assign-private-nat-gateway-address.json',
  },
  /**
   * An Elastic IP associated with a network interface (a NAT gateway's among them: the event
   * does not say whose it is, the reconcile finds out).
   */
  elasticIpAssociated: {
    pattern: {
      ...ec2Call('AssociateAddress'),
      detail: {
        ...ec2Call('AssociateAddress').detail,
        requestParameters: { networkInterfaceId: [{ exists: true }] },
      },
    },
    sample: 'associate-address.json',
  },
  /** An Elastic IP disassociated (possibly from a NAT gateway's interface). */
  elasticIpDisassociated: { pattern: ec2Call('DisassociateAddress'), sample: 'disassociate-address.json' },
} as const;

/** The EC2 calls that change which public IPs a VPC's NAT gateways use. */
export const NAT_GATEWAY_EVENT_NAMES = [
  'CreateNatGateway',
  'DeleteNatGateway',
  'AssociateNatGatewayAddress',
  'DisassociateNatGatewayAddress',
  'AssignPrivateNatGatewayAddress',
  'UnassignPrivateNatGatewayAddress',
  'AssociateAddress',
  'DisassociateAddress',
] as const;

export const EVENTS = {
  /**
   * Any of {@link NAT_CHANGE_EVENTS}, as one rule: what a member account forwards to the hub
   * bus (one rule per account keeps the member stack small).
   */
  natGatewayChanged: {
    source: ['aws.ec2'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['ec2.amazonaws.com'], eventName: [...NAT_GATEWAY_EVENT_NAMES] },
  },
} as const satisfies Record<string, EventPattern>;

/** Sample events, one per case, under `events/samples/<source>/<case>.json`. */
export const SAMPLES_DIR = new URL('./samples/', import.meta.url);
