/** Onboard step "targetRole" as a Lambda handler; the logic is `targetRoleStep` in `target-role`. */
import { targetRoleStep } from '../commons/resources/target-role';
import { runStep, stepHandler } from '../commons/step';

export const ensureTargetRole = runStep('onboard', 'targetRole', (link, rt) => targetRoleStep(link, rt));
export const handler = stepHandler(ensureTargetRole);
