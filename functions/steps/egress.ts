/** Onboard step "egress" as a Lambda handler; the logic is `egressStep` in `egress`. */
import { egressStep } from '../commons/resources/egress';
import { runStep, stepHandler } from '../commons/step';

export const ensureEgress = runStep('onboard', 'egress', (link, rt) => egressStep(link, rt));
export const handler = stepHandler(ensureEgress);
