/**
 * Onboard task "Ensure egress allowance": the allowance for the source's NAT IPs on the target. The logic is `egressStep` in `#resources/egress-allowance`.
 */
import { egressStep } from '#resources/egress-allowance';
import { runStep, stepHandler } from '../step';

export const ensureEgressAllowance = runStep('onboard', 'egress', (link, rt) => egressStep(link, rt));
export const handler = stepHandler(ensureEgressAllowance);
