/** Offboard (and compensation) step "releaseWorkloadRole" as a Lambda handler; the logic is `releaseWorkloadRoleStep` in `workload-role`. */
import { releaseWorkloadRoleStep } from '../commons/resources/workload-role';
import { runStep, stepHandler } from '../commons/step';

export const releaseWorkloadRole = runStep('offboard', 'releaseWorkloadRole', (link, rt) =>
  releaseWorkloadRoleStep(link, rt),
);
export const handler = stepHandler(releaseWorkloadRole);
