/**
 * Onboard (and reconcile) task "Ensure Pod Identity association": in mode pod-identity, the
 * association of the source service account naming the workload role and the target role;
 * nothing in the other modes. The logic is `podIdentityAssociationStep` in `#resources/pod-identity`.
 */
import { podIdentityAssociationStep } from '#resources/pod-identity';
import { runStep, stepHandler } from '../step';

export const ensurePodIdentityAssociation = runStep('onboard', 'podIdentityAssociation', (link, rt) =>
  podIdentityAssociationStep(link, rt),
);
export const handler = stepHandler(ensurePodIdentityAssociation);
