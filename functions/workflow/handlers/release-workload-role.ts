/**
 * Offboard (and compensation, as "Undo: …") task "Release workload role": this link's use of the workload role (the role goes with the workload's last link). The logic is `releaseWorkloadRoleStep` in `#resources/workload-role`.
 */
import { releaseWorkloadRoleStep } from '#resources/workload-role';
import { runStep, stepHandler } from '../step';

export const releaseWorkloadRole = runStep('offboard', 'releaseWorkloadRole', (link, rt) =>
  releaseWorkloadRoleStep(link, rt),
);
export const handler = stepHandler(releaseWorkloadRole);
