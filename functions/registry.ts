/**
 * Every Lambda function of the workflows: the ASL substitution that names it, the file and
 * export of its handler, and (for the local runtime) the handler itself. CDK creates one
 * function per entry and passes `${<substitution>}` = its ARN; the local runtime passes a
 * local ARN and runs the handler in-process. One list, so the two cannot drift.
 */
import type { Context } from 'aws-lambda';
import { handler as accessEntry } from './steps/access-entry';
import { handler as egress } from './steps/egress';
import { handler as kubeconfig } from './steps/kubeconfig';
import { handler as oidcProvider } from './steps/oidc-provider';
import {
  failureHandler,
  finishHandler,
  finishOffboardHandler,
  startDeletingHandler,
  startHandler,
} from './steps/record-status';
import { handler as releaseOidcProvider } from './steps/release-oidc-provider';
import { handler as releaseWorkloadRole } from './steps/release-workload-role';
import { handler as removeAccessEntry } from './steps/remove-access-entry';
import { handler as removeTargetRole } from './steps/remove-target-role';
import { handler as revokeEgress } from './steps/revoke-egress';
import { handler as resolve } from './steps/resolve';
import { handler as targetRole } from './steps/target-role';
import { handler as verify } from './steps/verify';
import { handler as workloadRole } from './steps/workload-role';

export interface WorkflowFunction {
  /** `${…}` placeholder in `statemachines/*.asl.json`. */
  readonly substitution: string;
  /** Function name (suffix) in AWS and in local ARNs. */
  readonly name: string;
  /** Source file and exported handler, for bundling. */
  readonly entry: string;
  readonly exportName: string;
  readonly handler: (event: any, context: Context) => Promise<unknown>;
}

export const WORKFLOW_FUNCTIONS: readonly WorkflowFunction[] = [
  {
    substitution: 'StartProvisioningFunctionArn',
    name: 'start-provisioning',
    entry: 'functions/steps/record-status.ts',
    exportName: 'startHandler',
    handler: startHandler,
  },
  {
    substitution: 'ResolveFunctionArn',
    name: 'resolve',
    entry: 'functions/steps/resolve.ts',
    exportName: 'handler',
    handler: resolve,
  },
  {
    substitution: 'OidcProviderFunctionArn',
    name: 'oidc-provider',
    entry: 'functions/steps/oidc-provider.ts',
    exportName: 'handler',
    handler: oidcProvider,
  },
  {
    substitution: 'WorkloadRoleFunctionArn',
    name: 'workload-role',
    entry: 'functions/steps/workload-role.ts',
    exportName: 'handler',
    handler: workloadRole,
  },
  {
    substitution: 'TargetRoleFunctionArn',
    name: 'target-role',
    entry: 'functions/steps/target-role.ts',
    exportName: 'handler',
    handler: targetRole,
  },
  {
    substitution: 'AccessEntryFunctionArn',
    name: 'access-entry',
    entry: 'functions/steps/access-entry.ts',
    exportName: 'handler',
    handler: accessEntry,
  },
  {
    substitution: 'EgressFunctionArn',
    name: 'egress',
    entry: 'functions/steps/egress.ts',
    exportName: 'handler',
    handler: egress,
  },
  {
    substitution: 'KubeconfigFunctionArn',
    name: 'kubeconfig',
    entry: 'functions/steps/kubeconfig.ts',
    exportName: 'handler',
    handler: kubeconfig,
  },
  {
    substitution: 'VerifyFunctionArn',
    name: 'verify',
    entry: 'functions/steps/verify.ts',
    exportName: 'handler',
    handler: verify,
  },
  {
    substitution: 'FinishOnboardFunctionArn',
    name: 'finish-onboard',
    entry: 'functions/steps/record-status.ts',
    exportName: 'finishHandler',
    handler: finishHandler,
  },
  {
    substitution: 'RecordFailureFunctionArn',
    name: 'record-failure',
    entry: 'functions/steps/record-status.ts',
    exportName: 'failureHandler',
    handler: failureHandler,
  },
  {
    substitution: 'StartDeletingFunctionArn',
    name: 'start-deleting',
    entry: 'functions/steps/record-status.ts',
    exportName: 'startDeletingHandler',
    handler: startDeletingHandler,
  },
  {
    substitution: 'RevokeEgressFunctionArn',
    name: 'revoke-egress',
    entry: 'functions/steps/revoke-egress.ts',
    exportName: 'handler',
    handler: revokeEgress,
  },
  {
    substitution: 'RemoveAccessEntryFunctionArn',
    name: 'remove-access-entry',
    entry: 'functions/steps/remove-access-entry.ts',
    exportName: 'handler',
    handler: removeAccessEntry,
  },
  {
    substitution: 'RemoveTargetRoleFunctionArn',
    name: 'remove-target-role',
    entry: 'functions/steps/remove-target-role.ts',
    exportName: 'handler',
    handler: removeTargetRole,
  },
  {
    substitution: 'ReleaseWorkloadRoleFunctionArn',
    name: 'release-workload-role',
    entry: 'functions/steps/release-workload-role.ts',
    exportName: 'handler',
    handler: releaseWorkloadRole,
  },
  {
    substitution: 'ReleaseOidcProviderFunctionArn',
    name: 'release-oidc-provider',
    entry: 'functions/steps/release-oidc-provider.ts',
    exportName: 'handler',
    handler: releaseOidcProvider,
  },
  {
    substitution: 'FinishOffboardFunctionArn',
    name: 'finish-offboard',
    entry: 'functions/steps/record-status.ts',
    exportName: 'finishOffboardHandler',
    handler: finishOffboardHandler,
  },
];
