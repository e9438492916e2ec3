/** Offboard (and compensation) step "releaseOidcProvider" as a Lambda handler; the logic is `releaseOidcProviderStep` in `oidc-provider`. */
import { releaseOidcProviderStep } from '../commons/resources/oidc-provider';
import { runStep, stepHandler } from '../commons/step';

export const releaseOidcProvider = runStep('offboard', 'releaseOidcProvider', (link, rt) =>
  releaseOidcProviderStep(link, rt),
);
export const handler = stepHandler(releaseOidcProvider);
