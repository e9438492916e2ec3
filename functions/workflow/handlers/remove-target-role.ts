/**
 * Offboard (and compensation, as "Undo: …") task "Remove target role": the link's target role. The logic is `removeTargetRoleStep` in `#resources/target-role`.
 */
import { removeTargetRoleStep } from '#resources/target-role';
import { runStep, stepHandler } from '../step';

export const removeTargetRole = runStep('offboard', 'removeTargetRole', (link, rt) =>
  removeTargetRoleStep(link, rt),
);
export const handler = stepHandler(removeTargetRole);
