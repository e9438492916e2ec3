/** Offboard (and compensation) step "revokeEgress" as a Lambda handler; the logic is `revokeEgressStep` in `egress`. */
import { revokeEgressStep } from '../commons/resources/egress';
import { runStep, stepHandler } from '../commons/step';

export const revokeEgress = runStep('offboard', 'revokeEgress', (link, rt) => revokeEgressStep(link, rt));
export const handler = stepHandler(revokeEgress);
