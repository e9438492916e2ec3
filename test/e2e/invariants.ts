/**
 * The ownership invariants, read from the sandbox: which Tether resources exist, and which
 * the live links need. "No orphan" = every Tether-tagged resource is needed by a live link;
 * "nothing missing" = every needed resource exists.
 */
import type { Link } from '#link/model';
import { kubernetesUsername, owners } from '#link/names';
import { allowancePlan } from '#resources/egress-allowance';
import { DEMO_TARGET_PUBLIC_ACCESS_CIDR } from '#local/sandbox/world';
import type { Resolved } from '#resources/resolve';
import { TAG_MANAGED, TAG_OWNER } from '#link/tags';
import type { Sandbox } from '#local/sandbox/index';

export interface OwnedResource {
  readonly kind:
    | 'role'
    | 'oidc-provider'
    | 'access-entry'
    | 'aws-auth-entry'
    | 'sg-rule'
    | 'public-access-cidr'
    | 'pod-identity-association';
  readonly account: string;
  readonly id: string;
  readonly owner: string;
}

const tagOf = (tags: readonly { Key: string; Value: string }[] | undefined, key: string) =>
  tags?.find((t) => t.Key === key)?.Value;

/** Every resource in the sandbox that carries Tether's managed tag (and Tether's aws-auth entries). */
export function tetherResources(
  sandbox: Sandbox,
  othersPublicCidrs: readonly string[] = [],
): OwnedResource[] {
  const out: OwnedResource[] = [];
  const state = sandbox.state();
  for (const [account, a] of Object.entries(state.accounts)) {
    for (const role of Object.values(a.iam.roles)) {
      if (tagOf(role.Tags, TAG_MANAGED) === 'true')
        out.push({ kind: 'role', account, id: role.Arn, owner: tagOf(role.Tags, TAG_OWNER) ?? '' });
    }
    for (const p of Object.values(a.iam.oidcProviders)) {
      if (tagOf(p.Tags, TAG_MANAGED) === 'true')
        out.push({ kind: 'oidc-provider', account, id: p.Arn, owner: tagOf(p.Tags, TAG_OWNER) ?? '' });
    }
    for (const region of Object.values(a.regions)) {
      for (const cluster of Object.values(region.eks.clusters)) {
        for (const e of Object.values(cluster.accessEntries)) {
          if (e.tags[TAG_MANAGED] === 'true')
            out.push({
              kind: 'access-entry',
              account,
              id: `${cluster.name}:${e.principalArn}`,
              owner: e.tags[TAG_OWNER] ?? '',
            });
        }
        // publicAccessCidrs carry no tags: every CIDR but the seeded ones (open to all, or the
        // demo's other team's block) and those a test put there by hand is taken for Tether's.
        for (const cidr of cluster.publicAccessCidrs) {
          if (
            cidr !== '0.0.0.0/0' &&
            cidr !== DEMO_TARGET_PUBLIC_ACCESS_CIDR &&
            !othersPublicCidrs.includes(cidr)
          )
            out.push({
              kind: 'public-access-cidr',
              account,
              id: `${cluster.name}:${cidr}`,
              owner: `${cluster.name}/${cidr}`,
            });
        }
        for (const a of Object.values(cluster.podIdentityAssociations ?? {})) {
          if (a.tags[TAG_MANAGED] === 'true')
            out.push({
              kind: 'pod-identity-association',
              account,
              id: a.associationArn,
              owner: a.tags[TAG_OWNER] ?? '',
            });
        }
        const mapRoles = cluster.configMaps['kube-system/aws-auth']?.data.mapRoles ?? '';
        for (const m of mapRoles.matchAll(/rolearn: (\S+)\n\s+username: (tether:\S+)/g)) {
          out.push({ kind: 'aws-auth-entry', account, id: `${cluster.name}:${m[1]}`, owner: m[2] ?? '' });
        }
      }
      for (const r of Object.values(region.ec2.securityGroupRules)) {
        if (tagOf(r.Tags, TAG_MANAGED) === 'true')
          out.push({
            kind: 'sg-rule',
            account,
            id: r.SecurityGroupRuleId,
            // One owner key per group: the rule's CIDR says which CIDR it lets in.
            owner: `${tagOf(r.Tags, TAG_OWNER) ?? ''}|${r.CidrIpv4 ?? ''}`,
          });
      }
    }
  }
  return out;
}

/** Owner keys (and aws-auth usernames) the given live links need, each with the kind it names. */
export function neededOwners(links: readonly Link[]): Set<string> {
  const needed = new Set<string>();
  for (const link of links) {
    const resolved = link.outputs.resolved as Resolved | undefined;
    if (!resolved) continue;
    // Mode pod-identity needs no OIDC provider, and its association instead.
    const podIdentity = link.spec.identity.mode === 'pod-identity';
    if (resolved.source.issuer && !podIdentity)
      needed.add(`oidc-provider|${owners.issuer(resolved.source.issuer)}`);
    if (podIdentity) needed.add(`pod-identity-association|${owners.link(link.spec)}`);
    needed.add(`role|${owners.workload(link.spec.source)}`);
    needed.add(`role|${owners.link(link.spec)}`);
    // An entry or rule someone else made that already gives the link what it needs is used
    // as it is (adopted): Tether needs none of its own beside it.
    if (link.outputs.access?.action !== 'uses-existing-unmanaged') {
      needed.add(
        resolved.target.authenticationMode === 'CONFIG_MAP'
          ? `aws-auth-entry|${kubernetesUsername(link.spec)}`
          : `access-entry|${owners.link(link.spec)}`,
      );
    }
    const plan = allowancePlan(link.spec, resolved);
    const sg = resolved.target.clusterSecurityGroupId;
    const adoptedCidrs = link.outputs.egress?.adopted ?? {};
    if (sg)
      for (const cidr of plan.securityGroup) {
        if (!(cidr in adoptedCidrs)) needed.add(`sg-rule|${owners.egressGroup(sg)}|${cidr}`);
      }
    const adoptedPublic = link.outputs.egress?.publicAccess?.adopted ?? {};
    for (const cidr of plan.publicAccess) {
      if (!(cidr in adoptedPublic)) needed.add(`public-access-cidr|${link.spec.target.cluster}/${cidr}`);
    }
  }
  return needed;
}

/** Present owner keys, as `kind|owner`. */
export function presentOwners(resources: readonly OwnedResource[]): Set<string> {
  return new Set(resources.map((r) => `${r.kind}|${r.owner}`));
}
