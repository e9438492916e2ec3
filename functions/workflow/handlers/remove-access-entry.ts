/**
 * Offboard (and compensation, as "Undo: …") task "Remove access entry": the link's access entry (or aws-auth mapping). The logic is `removeAccessEntryStep` in `#resources/access-entry`.
 */
import { removeAccessEntryStep } from '#resources/access-entry';
import { runStep, stepHandler } from '../step';

export const removeAccessEntry = runStep('offboard', 'removeAccessEntry', (link, rt) =>
  removeAccessEntryStep(link, rt),
);
export const handler = stepHandler(removeAccessEntry);
