/**
 * Onboard task "Ensure target role": the role in the target account that trusts the workload role by `aws:PrincipalArn`. The logic is `targetRoleStep` in `#resources/target-role`.
 */
import { targetRoleStep } from '#resources/target-role';
import { runStep, stepHandler } from '../step';

export const ensureTargetRole = runStep('onboard', 'targetRole', (link, rt) => targetRoleStep(link, rt));
export const handler = stepHandler(ensureTargetRole);
