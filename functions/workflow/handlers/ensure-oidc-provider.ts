/**
 * Onboard task "Ensure OIDC provider": the IAM OIDC provider for the source issuer (shared by the issuer's workloads). The logic is `oidcProviderStep` in `#resources/oidc-provider`.
 */
import { oidcProviderStep } from '#resources/oidc-provider';
import { runStep, stepHandler } from '../step';

export const ensureOidcProvider = runStep('onboard', 'oidcProvider', (link, rt) =>
  oidcProviderStep(link, rt),
);
export const handler = stepHandler(ensureOidcProvider);
