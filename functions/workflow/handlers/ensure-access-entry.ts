/**
 * Onboard task "Ensure access entry": the target cluster's access entry and access policy (or aws-auth mapping). The logic is `accessEntryStep` in `#resources/access-entry`.
 */
import { accessEntryStep } from '#resources/access-entry';
import { runStep, stepHandler } from '../step';

export const ensureAccessEntry = runStep('onboard', 'accessEntry', (link, rt) => accessEntryStep(link, rt));
export const handler = stepHandler(ensureAccessEntry);
