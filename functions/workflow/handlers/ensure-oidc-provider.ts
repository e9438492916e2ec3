/**
 * Onboard task "Ensure OIDC provider": the IAM OIDC provider for the source issuer (shared by the issuer's workloads). The logic is `oidcProviderStep` in `#resources/oidc-provider`.
 */
import { oidcProviderStep } from '#resources/oidc-provider';
import { DISCOVERY_PUBLISHER } from '#resources/self-managed-cluster';
import { runStep, stepHandler } from '../step';

export const ensureOidcProvider = runStep('onboard', 'oidcProvider', (link, rt, event) =>
  oidcProviderStep(link, rt, DISCOVERY_PUBLISHER, event),
);
export const handler = stepHandler(ensureOidcProvider);
