/**
 * Onboard task "Resolve clusters and NAT IPs": both clusters and the source NAT IPs (the
 * cross-account IRSA runbook, steps 1.2 and 6.1). The logic is `resolveLink` in `#resources/resolve`.
 */
import { resolveLink } from '#resources/resolve';
import { runStep, stepHandler } from '../step';

export const resolveClustersAndNatIps = runStep('onboard', 'resolve', async (link, rt) => {
  // A source registered as self-managed is served by Tether, not read from EKS.
  const registered =
    link.spec.identity.mode === 'principal' ? undefined : await rt.clusters?.get(link.spec.source);
  const resolved = await resolveLink(rt.clients, link.spec, registered);
  return {
    result: {
      sourceIssuer: resolved.source.issuer,
      ...(resolved.source.kind ? { sourceKind: resolved.source.kind } : {}),
      sourceVpcId: resolved.source.vpcId,
      natIps: resolved.source.natIps,
      targetAuthenticationMode: resolved.target.authenticationMode,
      targetSecurityGroupId: resolved.target.clusterSecurityGroupId,
    },
    outputs: { resolved },
  };
});
export const handler = stepHandler(resolveClustersAndNatIps);
