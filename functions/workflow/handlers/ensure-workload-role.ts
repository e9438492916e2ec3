/**
 * Onboard task "Ensure workload role": the source workload's role, trusted by the OIDC provider for exactly this service account. The logic is `workloadRoleStep` in `#resources/workload-role`.
 */
import { workloadRoleStep } from '#resources/workload-role';
import { runStep, stepHandler } from '../step';

export const ensureWorkloadRole = runStep('onboard', 'workloadRole', (link, rt, event) =>
  workloadRoleStep(link, rt, event),
);
export const handler = stepHandler(ensureWorkloadRole);
