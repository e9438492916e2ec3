/** Offboard (and compensation) step "removeAccessEntry" as a Lambda handler; the logic is `removeAccessEntryStep` in `access-entry`. */
import { removeAccessEntryStep } from '../commons/resources/access-entry';
import { runStep, stepHandler } from '../commons/step';

export const removeAccessEntry = runStep('offboard', 'removeAccessEntry', (link, rt) =>
  removeAccessEntryStep(link, rt),
);
export const handler = stepHandler(removeAccessEntry);
