/**
 * Reconcile (docs/architecture.md#workflows): which links a source-side change affects, found
 * through the membership index (source VPC → links, `SOURCEVPC#…`), never by reading every
 * link; whether the source VPC's NAT gateways have settled; and what a reconcile changed.
 * The ensures themselves are the onboard's: they read, compare, and change only the
 * difference, so a reconcile with nothing to do makes no mutating call.
 */
import { DescribeNatGatewaysCommand, type EC2Client, type NatGateway } from '@aws-sdk/client-ec2';
import { NatGatewaysPendingError } from '#link/errors';
import { isAwsError } from '#aws/errors';
import type { Link } from '#link/model';
import { membership } from '#store/table';
import type { StepDeps } from './deps';
import { describeCluster } from './resolve';

/** The fields of an EventBridge event the reconcile reads (a CloudTrail-delivered EC2 call). */
export interface SourceChangeEvent {
  readonly id?: string;
  readonly time?: string;
  readonly account: string;
  readonly region: string;
  readonly 'detail-type'?: string;
  readonly detail?: {
    readonly eventName?: string;
    readonly requestParameters?: unknown;
    readonly responseElements?: unknown;
  };
}

/** Every string in a JSON value that matches `re` (ids in CloudTrail's nested request/response shapes). */
function idsIn(value: unknown, re: RegExp, found = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    if (re.test(value)) found.add(value);
  } else if (Array.isArray(value)) for (const v of value) idsIn(v, re, found);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) idsIn(v, re, found);
  return found;
}

async function natGateways(ec2: EC2Client, ids?: readonly string[]): Promise<NatGateway[]> {
  const out: NatGateway[] = [];
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeNatGatewaysCommand({
        ...(ids ? { NatGatewayIds: [...ids] } : {}),
        ...(token ? { NextToken: token } : {}),
      }),
    );
    out.push(...(page.NatGateways ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/** The affected source VPCs of a change, and the links of each. */
export interface AffectedLinks {
  readonly account: string;
  readonly region: string;
  readonly vpcIds: readonly string[];
  readonly linkIds: readonly string[];
  /** How the VPCs were found: named by the event, or every NAT VPC of the account and region. */
  readonly how: 'named-by-the-event' | 'every-nat-vpc-of-the-region';
}

/**
 * The links a source-side egress change affects: the VPCs the event names (a VPC id in the
 * call, or the VPC of the NAT gateways it names, described in the source account), else —
 * an Elastic IP call says nothing of its NAT gateway — every VPC of the account and region
 * that has NAT gateways; then each VPC's links from the membership index. Reads only the
 * index items of those VPCs.
 */
export async function findAffectedLinks(
  deps: Pick<StepDeps, 'clients' | 'memberships'>,
  event: SourceChangeEvent,
): Promise<AffectedLinks> {
  const { account, region } = event;
  const ec2 = deps.clients.ec2(account, region);
  const detail = { request: event.detail?.requestParameters, response: event.detail?.responseElements };
  const vpcIds = idsIn(detail, /^vpc-[0-9a-f]+$/);
  const natIds = [...idsIn(detail, /^nat-[0-9a-f]+$/)];
  let how: AffectedLinks['how'] = 'named-by-the-event';
  if (natIds.length > 0) {
    try {
      for (const gw of await natGateways(ec2, natIds)) if (gw.VpcId) vpcIds.add(gw.VpcId);
    } catch (err) {
      // A gateway gone from DescribeNatGateways: fall back to the region's NAT VPCs.
      if (!isAwsError(err, 'NatGatewayNotFound', 'InvalidNatGatewayID.NotFound')) throw err;
    }
  }
  if (vpcIds.size === 0) {
    how = 'every-nat-vpc-of-the-region';
    for (const gw of await natGateways(ec2)) if (gw.VpcId) vpcIds.add(gw.VpcId);
  }
  const linkIds = new Set<string>();
  for (const vpcId of [...vpcIds].sort()) {
    for (const m of await deps.memberships.members(membership.sourceVpc(account, region, vpcId))) {
      if (typeof m.linkId === 'string') linkIds.add(m.linkId);
    }
  }
  return { account, region, vpcIds: [...vpcIds].sort(), linkIds: [...linkIds].sort(), how };
}

/**
 * Throws {@link NatGatewaysPendingError} while a NAT gateway of the link's source VPC is
 * pending (or deleting): CreateNatGateway answers before the gateway has its IPs, so the
 * reconcile reads them once it settles (the ASL retries with backoff).
 */
export async function awaitSourceNatGateways(link: Link, deps: Pick<StepDeps, 'clients'>) {
  const { source } = link.spec;
  if (link.spec.network.mode !== 'nat')
    return { result: { action: 'not-needed', network: link.spec.network.mode } };
  const cluster = await describeCluster(deps.clients.eks(source.accountId, source.region), source);
  const vpcId = cluster.resourcesVpcConfig?.vpcId ?? '';
  const ec2 = deps.clients.ec2(source.accountId, source.region);
  const page = await ec2.send(
    new DescribeNatGatewaysCommand({
      Filter: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'state', Values: ['pending', 'deleting'] },
      ],
    }),
  );
  const unsettled = (page.NatGateways ?? []).map((g) => `${g.NatGatewayId} (${g.State})`);
  if (unsettled.length) {
    throw new NatGatewaysPendingError(`NAT gateways of ${vpcId} not settled yet: ${unsettled.join(', ')}`);
  }
  return { result: { action: 'settled', vpcId } };
}

/** What a reconcile changed, step by step, from the results its steps recorded on the link. */
export function reconcileChanges(link: Link): { step: string; action: string }[] {
  const changed: { step: string; action: string }[] = [];
  for (const [step, record] of Object.entries(link.steps)) {
    const action = record?.result?.action;
    if (typeof action === 'string' && /^(created|updated|replaced|deleted)/.test(action)) {
      changed.push({ step, action });
    }
  }
  return changed;
}
