/** Onboard step "oidcProvider" as a Lambda handler; the logic is `oidcProviderStep` in `oidc-provider`. */
import { oidcProviderStep } from '../commons/resources/oidc-provider';
import { runStep, stepHandler } from '../commons/step';

export const ensureOidcProvider = runStep('onboard', 'oidcProvider', (link, rt) =>
  oidcProviderStep(link, rt),
);
export const handler = stepHandler(ensureOidcProvider);
