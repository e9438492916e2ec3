/**
 * VPCs and subnets, read only: the seed world (`../world.ts`) makes them, and
 * DescribeVpcs and DescribeSubnets show them.
 */
import { clone, type Operations } from '#local/sandbox/context';
import { applyFilters, byIds, ec2Of } from './resources';

/** DescribeVpcs and DescribeSubnets. */
export const vpcOperations: Operations = {
  DescribeVpcs: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const vpcs = applyFilters(
      byIds(ec2.vpcs, input.VpcIds, 'InvalidVpcID.NotFound', 'vpc ID'),
      input.Filters,
      (v, name) =>
        ({
          'vpc-id': [v.VpcId],
          'cidr-block': [v.CidrBlock],
          cidr: [v.CidrBlock],
          'owner-id': [ctx.account.id],
          state: ['available'],
        })[name],
    );
    return {
      Vpcs: vpcs.map((v) => ({
        VpcId: v.VpcId,
        CidrBlock: v.CidrBlock,
        State: 'available',
        OwnerId: ctx.account.id,
        InstanceTenancy: 'default',
        IsDefault: false,
        Tags: clone(v.Tags),
      })),
    };
  },

  DescribeSubnets: (ctx, input) => {
    const ec2 = ec2Of(ctx);
    const subnets = applyFilters(
      byIds(ec2.subnets, input.SubnetIds, 'InvalidSubnetID.NotFound', 'subnet ID'),
      input.Filters,
      (s, name) =>
        ({
          'subnet-id': [s.SubnetId],
          'vpc-id': [s.VpcId],
          'availability-zone': [s.AvailabilityZone],
          'cidr-block': [s.CidrBlock],
          state: ['available'],
        })[name],
    );
    return {
      Subnets: subnets.map((s) => ({
        SubnetId: s.SubnetId,
        VpcId: s.VpcId,
        CidrBlock: s.CidrBlock,
        AvailabilityZone: s.AvailabilityZone,
        State: 'available',
        MapPublicIpOnLaunch: s.MapPublicIpOnLaunch,
        AvailableIpAddressCount: 4000,
        OwnerId: ctx.account.id,
        Tags: clone(s.Tags),
      })),
    };
  },
};
