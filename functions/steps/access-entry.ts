/** Onboard step "accessEntry" as a Lambda handler; the logic is `accessEntryStep` in `access-entry`. */
import { accessEntryStep } from '../commons/resources/access-entry';
import { runStep, stepHandler } from '../commons/step';

export const ensureAccessEntry = runStep('onboard', 'accessEntry', (link, rt) => accessEntryStep(link, rt));
export const handler = stepHandler(ensureAccessEntry);
