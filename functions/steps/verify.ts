/** Onboard step "verify" as a Lambda handler; the logic is `verifyStep` in `verify`. */
import { verifyStep } from '../commons/resources/verify';
import { runStep, stepHandler } from '../commons/step';

export const verifyRoleChain = runStep('onboard', 'verify', (link, rt) => verifyStep(link, rt));
export const handler = stepHandler(verifyRoleChain);
