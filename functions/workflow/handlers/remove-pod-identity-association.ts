/**
 * Offboard (and compensation, as "Undo: …") task "Remove Pod Identity association": the
 * link's association, in mode pod-identity. The logic is `removePodIdentityAssociationStep`
 * in `#resources/pod-identity`.
 */
import { removePodIdentityAssociationStep } from '#resources/pod-identity';
import { runStep, stepHandler } from '../step';

export const removePodIdentityAssociation = runStep('offboard', 'removePodIdentityAssociation', (link, rt) =>
  removePodIdentityAssociationStep(link, rt),
);
export const handler = stepHandler(removePodIdentityAssociation);
