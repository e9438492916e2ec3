/** Onboard step "resolve": both clusters and the source NAT IPs (seed 000 steps 1.2, 6.1). */
import { resolveLink } from '../commons/resources/resolve';
import { runStep, stepHandler } from '../commons/step';

export const resolveClusters = runStep('onboard', 'resolve', async (link, rt) => {
  const resolved = await resolveLink(rt.clients, link.spec);
  return {
    result: {
      sourceIssuer: resolved.source.issuer,
      sourceVpcId: resolved.source.vpcId,
      natIps: resolved.source.natIps,
      targetAuthenticationMode: resolved.target.authenticationMode,
      targetSecurityGroupId: resolved.target.clusterSecurityGroupId,
    },
    outputs: { resolved },
  };
});
export const handler = stepHandler(resolveClusters);
