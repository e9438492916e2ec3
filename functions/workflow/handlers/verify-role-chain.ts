/**
 * Onboard task "Verify role chain": reads back the policies in place and evaluates the chain hop by hop. The logic is `verifyStep` in `#resources/verify`.
 */
import { verifyStep } from '#resources/verify';
import { runStep, stepHandler } from '../step';

export const verifyRoleChain = runStep('onboard', 'verify', (link, rt) => verifyStep(link, rt));
export const handler = stepHandler(verifyRoleChain);
