/**
 * Every Lambda function of the workflows, derived from one table: the Task state's name and
 * its handler. Everything else follows from the state's name, so one step has one name end
 * to end:
 *
 * ```
 * ASL state "Ensure egress allowance"
 *   ↔ functions/workflow/handlers/ensure-egress-allowance.ts (export `handler`)
 *   ↔ ${EnsureEgressAllowanceFunctionArn} in statemachines/*.asl.json
 *   ↔ function "ensure-egress-allowance" (CDK; local ARNs)
 * ```
 *
 * A compensation state "Undo: revoke egress allowance" runs the function of "Revoke egress
 * allowance". CDK creates one function per entry and passes `${<substitution>}` = its ARN;
 * the local runtime passes a local ARN and runs the handler in-process.
 * `test/unit/workflow/registry.test.ts` checks every Task state of every ASL file against
 * this table, and the reverse.
 */
import type { Context } from 'aws-lambda';
import { handler as ensureAccessEntry } from './handlers/ensure-access-entry';
import { handler as ensureEgressAllowance } from './handlers/ensure-egress-allowance';
import { handler as ensureOidcProvider } from './handlers/ensure-oidc-provider';
import { handler as ensurePodIdentityAssociation } from './handlers/ensure-pod-identity-association';
import { handler as ensureTargetRole } from './handlers/ensure-target-role';
import { handler as ensureWorkloadRole } from './handlers/ensure-workload-role';
import { handler as markLinkActive } from './handlers/mark-link-active';
import { handler as markLinkDeleted } from './handlers/mark-link-deleted';
import { handler as recordFailure } from './handlers/record-failure';
import { handler as releaseOidcProvider } from './handlers/release-oidc-provider';
import { handler as releaseWorkloadRole } from './handlers/release-workload-role';
import { handler as removeAccessEntry } from './handlers/remove-access-entry';
import { handler as removePodIdentityAssociation } from './handlers/remove-pod-identity-association';
import { handler as removeTargetRole } from './handlers/remove-target-role';
import { handler as renderKubeconfig } from './handlers/render-kubeconfig';
import { handler as resolveClustersAndNatIps } from './handlers/resolve-clusters-and-nat-ips';
import { handler as revokeEgressAllowance } from './handlers/revoke-egress-allowance';
import { handler as startDeleting } from './handlers/start-deleting';
import { handler as startProvisioning } from './handlers/start-provisioning';
import { handler as verifyRoleChain } from './handlers/verify-role-chain';
import { handler as findAffectedLinks } from './handlers/find-affected-links';
import { handler as markLinkReconciled } from './handlers/mark-link-reconciled';
import { handler as recordDegradation } from './handlers/record-degradation';
import { handler as startReconciling } from './handlers/start-reconciling';
import { handler as waitForSourceNatGateways } from './handlers/wait-for-source-nat-gateways';

type Handler = (event: any, context: Context) => Promise<unknown>;

/**
 * The one table: Task state name → handler. Order: onboard, then offboard, as the runbook
 * goes, then the reconcile's own (it runs the onboard's ensures between them).
 */
const TASKS: readonly (readonly [state: string, handler: Handler])[] = [
  ['Start provisioning', startProvisioning],
  ['Resolve clusters and NAT IPs', resolveClustersAndNatIps],
  ['Ensure OIDC provider', ensureOidcProvider],
  ['Ensure workload role', ensureWorkloadRole],
  ['Ensure Pod Identity association', ensurePodIdentityAssociation],
  ['Ensure target role', ensureTargetRole],
  ['Ensure access entry', ensureAccessEntry],
  ['Ensure egress allowance', ensureEgressAllowance],
  ['Render kubeconfig', renderKubeconfig],
  ['Verify role chain', verifyRoleChain],
  ['Mark link active', markLinkActive],
  ['Record failure', recordFailure],
  ['Start deleting', startDeleting],
  ['Revoke egress allowance', revokeEgressAllowance],
  ['Remove access entry', removeAccessEntry],
  ['Remove target role', removeTargetRole],
  ['Remove Pod Identity association', removePodIdentityAssociation],
  ['Release workload role', releaseWorkloadRole],
  ['Release OIDC provider', releaseOidcProvider],
  ['Mark link deleted', markLinkDeleted],
  ['Find affected links', findAffectedLinks],
  ['Start reconciling', startReconciling],
  ['Wait for source NAT gateways', waitForSourceNatGateways],
  ['Mark link reconciled', markLinkReconciled],
  ['Record degradation', recordDegradation],
];

/** The prefix of a compensation state that runs another state's function. */
export const UNDO_PREFIX = 'Undo: ';

/** The prefix of a state that runs a source step's function again, reading (`#resources/source-side`). */
export const CONFIRM_PREFIX = 'Confirm: ';

function words(state: string): string[] {
  return state
    .replace(/[^A-Za-z0-9 ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/**
 * The state whose function a Task state runs: itself, or for "Undo: x" and "Confirm: x" the state "X".
 *
 * @example
 * functionStateOf('Undo: remove access entry'); // 'Remove access entry'
 * functionStateOf('Confirm: ensure workload role'); // 'Ensure workload role'
 */
export function functionStateOf(state: string): string {
  const prefix = [UNDO_PREFIX, CONFIRM_PREFIX].find((p) => state.startsWith(p));
  if (!prefix) return state;
  const rest = state.slice(prefix.length);
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/**
 * The file name (without `.ts`) and function name of a state.
 *
 * @example
 * functionNameOf('Resolve clusters and NAT IPs'); // 'resolve-clusters-and-nat-ips'
 */
export function functionNameOf(state: string): string {
  return words(functionStateOf(state)).join('-');
}

/**
 * The `${…}` substitution that stands for a state's function ARN in the ASL.
 *
 * @example
 * substitutionOf('Ensure OIDC provider'); // 'EnsureOidcProviderFunctionArn'
 */
export function substitutionOf(state: string): string {
  const pascal = words(functionStateOf(state))
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
  return `${pascal}FunctionArn`;
}

export interface WorkflowFunction {
  /** The Task state (without an "Undo: " prefix) whose function this is. */
  readonly state: string;
  /** `${…}` placeholder in `statemachines/*.asl.json`. */
  readonly substitution: string;
  /** Function name (suffix) in AWS and in local ARNs; also the handler's file name. */
  readonly name: string;
  /** Source file and exported handler, for bundling. */
  readonly entry: string;
  readonly exportName: 'handler';
  readonly handler: Handler;
}

/** Every workflow function, derived from {@link TASKS}. */
export const WORKFLOW_FUNCTIONS: readonly WorkflowFunction[] = TASKS.map(([state, handler]) => ({
  state,
  substitution: substitutionOf(state),
  name: functionNameOf(state),
  entry: `functions/workflow/handlers/${functionNameOf(state)}.ts`,
  exportName: 'handler',
  handler,
}));
