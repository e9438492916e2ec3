/** Offboard (and compensation) step "removeTargetRole" as a Lambda handler; the logic is `removeTargetRoleStep` in `target-role`. */
import { removeTargetRoleStep } from '../commons/resources/target-role';
import { runStep, stepHandler } from '../commons/step';

export const removeTargetRole = runStep('offboard', 'removeTargetRole', (link, rt) =>
  removeTargetRoleStep(link, rt),
);
export const handler = stepHandler(removeTargetRole);
