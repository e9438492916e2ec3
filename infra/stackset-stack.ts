/**
 * The member-account stack as a service-managed StackSet: every account of the configured
 * organizational units gets it (and so will accounts added later), in every member region.
 * Deployed in the organization's management account, or in a delegated administrator.
 *
 * The hub account is left out of the StackSet (it gets the member stack as a plain stack),
 * so the two never make the same named role twice.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import type { Construct } from 'constructs';
import type { TetherConfig } from './config';

export interface StackSetStackProps extends StackProps {
  readonly config: TetherConfig;
  /** The synthesized member-account template (`MemberStack`). */
  readonly memberTemplate: unknown;
}

export class StackSetStack extends Stack {
  constructor(scope: Construct, id: string, props: StackSetStackProps) {
    super(scope, id, props);
    const { config } = props;
    const org = config.organization;
    if (!org) throw new Error('a service-managed StackSet needs an organization');
    const body = JSON.stringify(props.memberTemplate);
    // CloudFormation takes at most 51,200 bytes inline.
    if (Buffer.byteLength(body) > 51_200) throw new Error('the member template is too big to inline');
    // IAM first: the stack instance in the hub's region makes the roles the others name.
    const regions = [config.hub.region, ...config.memberRegions.filter((r) => r !== config.hub.region)];
    new CfnStackSet(this, 'MemberStackSet', {
      stackSetName: 'tether-member',
      description: "Tether's agent role, permissions boundary and NAT gateway event forwarding",
      permissionModel: 'SERVICE_MANAGED',
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      callAs: org.stackSetCallAs ?? 'SELF',
      capabilities: ['CAPABILITY_NAMED_IAM'],
      templateBody: body,
      managedExecution: { Active: true },
      operationPreferences: {
        regionConcurrencyType: 'SEQUENTIAL',
        regionOrder: regions,
        maxConcurrentPercentage: 25,
        failureTolerancePercentage: 0,
      },
      stackInstancesGroup: [
        {
          regions,
          deploymentTargets: {
            organizationalUnitIds: [...org.organizationalUnitIds],
            accounts: [config.hub.account],
            accountFilterType: 'DIFFERENCE',
          },
        },
      ],
    });
  }
}
