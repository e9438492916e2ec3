/**
 * NAT gateways and the Elastic IPs they hold: allocate, describe and release addresses;
 * create and delete gateways (asynchronous: pending → available and deleting → deleted as
 * they are described); associate and disassociate secondary addresses. Quotas follow
 * docs/aws-facts.md#ec2-and-vpc.
 */
import { clone, type OpContext, type Operations, paginate, requireString } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import type { AddressState, Ec2State, NatGatewayState } from '#local/sandbox/state';
import { applyFilters, byIds, ec2Of, ids, notFound } from './resources';
import { specTags } from './tags';

/** Elastic IPs per NAT gateway: 2 by default, adjustable to 8; the sandbox allows 8 (docs/aws-facts.md#nat-gateway-addresses). */
export const ADDRESSES_PER_NAT_GATEWAY = 8;
/** NAT gateways per Availability Zone (docs/aws-facts.md#nat-gateway-addresses). */
export const NAT_GATEWAYS_PER_AZ = 5;

function natOrThrow(ec2: Ec2State, id: unknown): NatGatewayState {
  const n = typeof id === 'string' ? ec2.natGateways[id] : undefined;
  if (!n || n.State === 'deleted')
    throw notFound('NatGatewayNotFound', `The Nat Gateway ${String(id)} was not found`);
  return n;
}

function addressOrThrow(ec2: Ec2State, id: unknown): AddressState {
  const a = typeof id === 'string' ? ec2.addresses[id] : undefined;
  if (!a) throw notFound('InvalidAllocationID.NotFound', `The allocation ID '${String(id)}' does not exist`);
  return a;
}

function natOutput(n: NatGatewayState, addressStatus = 'succeeded'): Record<string, unknown> {
  return {
    CreateTime: new Date(n.CreateTime),
    ...(n.DeleteTime ? { DeleteTime: new Date(n.DeleteTime) } : {}),
    NatGatewayAddresses: n.addresses.map((a) => ({ ...a, Status: addressStatus })),
    NatGatewayId: n.NatGatewayId,
    State: n.State,
    SubnetId: n.SubnetId,
    VpcId: n.VpcId,
    Tags: clone(n.Tags),
    ConnectivityType: n.ConnectivityType,
  };
}

function addressOutput(ctx: OpContext, a: AddressState): Record<string, unknown> {
  return {
    AllocationId: a.AllocationId,
    PublicIp: a.PublicIp,
    Domain: 'vpc',
    ...(a.AssociationId ? { AssociationId: a.AssociationId } : {}),
    ...(a.NetworkInterfaceId
      ? { NetworkInterfaceId: a.NetworkInterfaceId, NetworkInterfaceOwnerId: ctx.account.id }
      : {}),
    ...(a.PrivateIpAddress ? { PrivateIpAddress: a.PrivateIpAddress } : {}),
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: ctx.region,
    Tags: clone(a.Tags),
  };
}

/** A fresh public IP, unique across the whole sandbox. */
export function newPublicIp(ctx: { state: OpContext['state']; newHex(kind: string): string }): string {
  const used = new Set<string>();
  for (const acc of Object.values(ctx.state.accounts)) {
    for (const r of Object.values(acc.regions))
      for (const a of Object.values(r.ec2.addresses)) used.add(a.PublicIp);
  }
  for (;;) {
    const h = ctx.newHex('eip');
    const ip = `54.${parseInt(h.slice(0, 2), 16)}.${parseInt(h.slice(2, 4), 16)}.${(parseInt(h.slice(4, 6), 16) % 254) + 1}`;
    if (!used.has(ip)) return ip;
  }
}

/** A private IPv4 address of a subnet for a private NAT gateway (deterministic, from the id counter). */
export function newPrivateIp(ctx: { newHex(kind: string): string }): string {
  const h = ctx.newHex('natprivip');
  return `10.0.${parseInt(h.slice(0, 2), 16)}.${(parseInt(h.slice(2, 4), 16) % 250) + 4}`;
}

/**
 * Gives a private NAT gateway a private IPv4 address (CreateNatGateway with ConnectivityType
 * private, seeds): what its traffic carries as source toward a peered or Transit Gateway
 * attached network (docs/aws-facts.md#nat-gateway-addresses).
 */
export function attachPrivateAddress(
  ctx: { newHex(kind: string): string },
  nat: NatGatewayState,
  privateIp: string,
  isPrimary: boolean,
): NatGatewayState['addresses'][number] {
  const h = ctx.newHex('natprivate');
  const assoc = { NetworkInterfaceId: `eni-${h.slice(0, 17)}`, PrivateIp: privateIp, IsPrimary: isPrimary };
  nat.addresses.push(assoc);
  return assoc;
}

/** Associates an Elastic IP with a NAT gateway (CreateNatGateway, AssociateNatGatewayAddress, seeds). */
export function attachAddress(
  ctx: { newHex(kind: string): string },
  nat: NatGatewayState,
  address: AddressState,
  isPrimary: boolean,
): NatGatewayState['addresses'][number] {
  const h = ctx.newHex('eipassoc');
  const assoc = {
    AllocationId: address.AllocationId,
    PublicIp: address.PublicIp,
    AssociationId: `eipassoc-${h.slice(0, 17)}`,
    NetworkInterfaceId: `eni-${h.slice(17, 34)}`,
    PrivateIp: `10.0.${parseInt(h.slice(34, 36), 16)}.${(parseInt(h.slice(36, 38), 16) % 250) + 4}`,
    IsPrimary: isPrimary,
  };
  nat.addresses.push(assoc);
  address.AssociationId = assoc.AssociationId;
  address.NetworkInterfaceId = assoc.NetworkInterfaceId;
  address.PrivateIpAddress = assoc.PrivateIp;
  address.natGatewayId = nat.NatGatewayId;
  return assoc;
}

function detachAddress(ec2: Ec2State, assoc: NatGatewayState['addresses'][number]): void {
  // A private NAT gateway's address is no Elastic IP: nothing to detach.
  if (!assoc.AllocationId) return;
  const a = ec2.addresses[assoc.AllocationId];
  if (!a) return;
  delete a.AssociationId;
  delete a.NetworkInterfaceId;
  delete a.PrivateIpAddress;
  delete a.natGatewayId;
}

function freeAddress(ec2: Ec2State, id: unknown): AddressState {
  const a = addressOrThrow(ec2, id);
  if (a.AssociationId)
    throw new SandboxError(
      'Resource.AlreadyAssociated',
      `Elastic IP address [${a.AllocationId}] is already associated`,
    );
  return a;
}

/** Moves NAT gateways along pending → available and deleting → deleted as they are described. */
function settle(ctx: OpContext, n: NatGatewayState): void {
  if (n.State !== 'pending' && n.State !== 'deleting') return;
  ctx.markDirty();
  if (n.settleAfterDescribes > 0) {
    n.settleAfterDescribes -= 1;
    return;
  }
  n.State = n.State === 'pending' ? 'available' : 'deleted';
}

/** The NAT gateway and Elastic IP operations. */
export const natGatewayOperations: Operations = {
  DescribeNatGateways: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const all = byIds(ec2.natGateways, input.NatGatewayIds, 'NatGatewayNotFound', 'Nat Gateway');
    for (const n of all) settle(ctx, n);
    // DescribeNatGateways names its filter list `Filter`, not `Filters`.
    const nats = applyFilters(
      all,
      input.Filter,
      (n, name) =>
        ({
          'nat-gateway-id': [n.NatGatewayId],
          state: [n.State],
          'subnet-id': [n.SubnetId],
          'vpc-id': [n.VpcId],
        })[name],
    );
    const { page, next } = paginate(nats, input.NextToken, input.MaxResults, 1000);
    return { NatGateways: page.map((n) => natOutput(n)), ...(next ? { NextToken: next } : {}) };
  },

  CreateNatGateway: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const subnet = typeof input.SubnetId === 'string' ? ec2.subnets[input.SubnetId] : undefined;
    if (!subnet)
      throw notFound('InvalidSubnetID.NotFound', `The subnet ID '${String(input.SubnetId)}' does not exist`);
    if (typeof input.ClientToken === 'string') {
      const same = Object.values(ec2.natGateways).find((n) => n.clientToken === input.ClientToken);
      if (same) return { NatGateway: natOutput(same), ClientToken: input.ClientToken };
    }
    const type = input.ConnectivityType === 'private' ? 'private' : 'public';
    const inAz = Object.values(ec2.natGateways).filter(
      (n) => n.State !== 'deleted' && ec2.subnets[n.SubnetId]?.AvailabilityZone === subnet.AvailabilityZone,
    ).length;
    if (inAz >= NAT_GATEWAYS_PER_AZ)
      throw new SandboxError(
        'NatGatewayLimitExceeded',
        'The maximum number of NAT Gateways has been reached.',
      );
    const primary =
      type === 'public'
        ? freeAddress(ec2, requireString(input.AllocationId, 'allocationId', 'MissingParameter'))
        : undefined;
    const secondary = Array.isArray(input.SecondaryAllocationIds)
      ? (input.SecondaryAllocationIds as string[]).map((id) => freeAddress(ec2, id))
      : [];
    if (1 + secondary.length > ADDRESSES_PER_NAT_GATEWAY) {
      throw new SandboxError(
        'AddressLimitExceeded',
        `A NAT gateway can have at most ${ADDRESSES_PER_NAT_GATEWAY} Elastic IP addresses`,
      );
    }
    const nat: NatGatewayState = {
      NatGatewayId: ids('nat', ctx),
      VpcId: subnet.VpcId,
      SubnetId: subnet.SubnetId,
      // CreateNatGateway is asynchronous (docs/aws-facts.md#nat-gateway-change-events): pending until described once more.
      State: 'pending',
      ConnectivityType: type,
      CreateTime: ctx.now(),
      addresses: [],
      Tags: specTags(input.TagSpecifications, 'natgateway'),
      settleAfterDescribes: 1,
      ...(typeof input.ClientToken === 'string' ? { clientToken: input.ClientToken } : {}),
    };
    if (primary) attachAddress(ctx, nat, primary, true);
    for (const a of secondary) attachAddress(ctx, nat, a, false);
    if (type === 'private') {
      // A private NAT gateway: a primary private IPv4 address of its subnet, and the
      // secondary ones asked for, by address or by count (no Elastic IP).
      const asked = Array.isArray(input.SecondaryPrivateIpAddresses)
        ? (input.SecondaryPrivateIpAddresses as string[])
        : Array.from({ length: Number(input.SecondaryPrivateIpAddressCount ?? 0) }, () => newPrivateIp(ctx));
      if (1 + asked.length > ADDRESSES_PER_NAT_GATEWAY) {
        throw new SandboxError(
          'InvalidParameterValue',
          `A NAT gateway can have at most ${ADDRESSES_PER_NAT_GATEWAY} private IPv4 addresses`,
        );
      }
      const primaryIp =
        typeof input.PrivateIpAddress === 'string' ? input.PrivateIpAddress : newPrivateIp(ctx);
      attachPrivateAddress(ctx, nat, primaryIp, true);
      for (const ip of asked) attachPrivateAddress(ctx, nat, ip, false);
    }
    ec2.natGateways[nat.NatGatewayId] = nat;
    return {
      NatGateway: natOutput(nat, 'associating'),
      ...(typeof input.ClientToken === 'string' ? { ClientToken: input.ClientToken } : {}),
    };
  },

  DeleteNatGateway: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    if (nat.State !== 'deleting') {
      for (const a of nat.addresses) detachAddress(ec2, a);
      nat.State = 'deleting';
      nat.DeleteTime = ctx.now();
      nat.settleAfterDescribes = 1;
    }
    return { NatGatewayId: nat.NatGatewayId };
  },

  AssociateNatGatewayAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    if (nat.State === 'deleting')
      throw new SandboxError('InvalidParameterValue', `NAT gateway ${nat.NatGatewayId} is being deleted`);
    const wanted = Array.isArray(input.AllocationIds) ? (input.AllocationIds as string[]) : [];
    if (wanted.length === 0)
      throw new SandboxError('MissingParameter', 'The request must contain the parameter AllocationIds');
    const addrs = wanted.map((id) => freeAddress(ec2, id));
    // 2 Elastic IPs by default, adjustable to 8 (docs/aws-facts.md#ec2-and-vpc); the error code is unconfirmed.
    if (nat.addresses.length + addrs.length > ADDRESSES_PER_NAT_GATEWAY) {
      throw new SandboxError(
        'AddressLimitExceeded',
        `A NAT gateway can have at most ${ADDRESSES_PER_NAT_GATEWAY} Elastic IP addresses`,
      );
    }
    const added = addrs.map((a) => attachAddress(ctx, nat, a, false));
    return {
      NatGatewayId: nat.NatGatewayId,
      NatGatewayAddresses: added.map((a) => ({ ...a, Status: 'associating' })),
    };
  },

  DisassociateNatGatewayAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const nat = natOrThrow(ec2, input.NatGatewayId);
    const wanted = Array.isArray(input.AssociationIds) ? (input.AssociationIds as string[]) : [];
    const victims = wanted.map((id) => {
      const a = nat.addresses.find((x) => x.AssociationId === id);
      if (!a) throw notFound('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
      if (a.IsPrimary)
        throw new SandboxError(
          'InvalidParameterValue',
          'You cannot disassociate the primary address of a NAT gateway',
        );
      return a;
    });
    for (const v of victims) detachAddress(ec2, v);
    nat.addresses = nat.addresses.filter((a) => !victims.includes(a));
    return {
      NatGatewayId: nat.NatGatewayId,
      NatGatewayAddresses: victims.map((a) => ({ ...a, Status: 'disassociating' })),
    };
  },

  AllocateAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const a: AddressState = {
      AllocationId: ids('eipalloc', ctx),
      PublicIp: newPublicIp(ctx),
      Tags: specTags(input.TagSpecifications, 'elastic-ip'),
    };
    ec2.addresses[a.AllocationId] = a;
    return {
      PublicIp: a.PublicIp,
      AllocationId: a.AllocationId,
      Domain: 'vpc',
      PublicIpv4Pool: 'amazon',
      NetworkBorderGroup: ctx.region,
    };
  },

  ReleaseAddress: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const a = addressOrThrow(ec2, input.AllocationId);
    if (a.AssociationId) throw new SandboxError('InvalidIPAddress.InUse', `Address ${a.PublicIp} is in use.`);
    delete ec2.addresses[a.AllocationId];
    return {};
  },

  DescribeAddresses: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    let all = byIds(ec2.addresses, input.AllocationIds, 'InvalidAllocationID.NotFound', 'allocation ID');
    if (Array.isArray(input.PublicIps) && input.PublicIps.length > 0) {
      all = (input.PublicIps as string[]).map((ip) => {
        const a = all.find((x) => x.PublicIp === ip);
        if (!a) throw notFound('InvalidAddress.NotFound', `Address '${ip}' not found.`);
        return a;
      });
    }
    const addrs = applyFilters(
      all,
      input.Filters,
      (a, name) =>
        ({
          'allocation-id': [a.AllocationId],
          'association-id': [a.AssociationId],
          domain: ['vpc'],
          'public-ip': [a.PublicIp],
          'network-interface-id': [a.NetworkInterfaceId],
          'private-ip-address': [a.PrivateIpAddress],
        })[name],
    );
    return { Addresses: addrs.map((a) => addressOutput(ctx, a)) };
  },
};
