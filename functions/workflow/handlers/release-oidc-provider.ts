/**
 * Offboard (and compensation, as "Undo: …") task "Release OIDC provider": this link's use of the OIDC provider (kept while any user remains). The logic is `releaseOidcProviderStep` in `#resources/oidc-provider`.
 */
import { releaseOidcProviderStep } from '#resources/oidc-provider';
import { DISCOVERY_PUBLISHER } from '#resources/self-managed-cluster';
import { runStep, stepHandler } from '../step';

export const releaseOidcProvider = runStep('offboard', 'releaseOidcProvider', (link, rt) =>
  releaseOidcProviderStep(link, rt, DISCOVERY_PUBLISHER),
);
export const handler = stepHandler(releaseOidcProvider);
