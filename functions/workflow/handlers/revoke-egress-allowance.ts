/**
 * Offboard (and compensation, as "Undo: …") task "Revoke egress allowance": this link's share of the egress allowance (a rule goes with its last link). The logic is `revokeEgressStep` in `#resources/egress-allowance`.
 */
import { revokeEgressStep } from '#resources/egress-allowance';
import { runStep, stepHandler } from '../step';

export const revokeEgressAllowance = runStep('offboard', 'revokeEgress', (link, rt) =>
  revokeEgressStep(link, rt),
);
export const handler = stepHandler(revokeEgressAllowance);
