/** Onboard step "workloadRole" as a Lambda handler; the logic is `workloadRoleStep` in `workload-role`. */
import { workloadRoleStep } from '../commons/resources/workload-role';
import { runStep, stepHandler } from '../commons/step';

export const ensureWorkloadRole = runStep('onboard', 'workloadRole', (link, rt) =>
  workloadRoleStep(link, rt),
);
export const handler = stepHandler(ensureWorkloadRole);
