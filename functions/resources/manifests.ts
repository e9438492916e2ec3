/**
 * Manifests: what the user applies in the source cluster once the link is ACTIVE, as
 * Kubernetes YAML (`GET /links/{id}/manifests`), per identity mode — the runbook's last
 * steps (docs/runbooks.md#the-cross-account-irsa-runbook, steps 2 and 3):
 * - `irsa` (role chain or direct access): the ServiceAccount with its role annotation
 *   (`eks.amazonaws.com/role-arn` = the workload role), the Secret holding the kubeconfig,
 *   and the Deployment patch that mounts it and points `KUBECONFIG` at it;
 * - `principal`: no ServiceAccount (the source is an existing role, not a web identity);
 *   the Secret, and the Deployment patch, whose pod template carries KIAM's
 *   `iam.amazonaws.com/role` annotation naming that role (the KIAM runbook; ignored where
 *   the credentials come from the node's instance profile);
 * - `pod-identity`: the ServiceAccount without the IRSA annotation (the Pod Identity
 *   association names the roles; an annotation would make the SDK take IRSA first), the
 *   Secret, and the Deployment patch running as that service account.
 *
 * The Deployment object is a strategic-merge patch (`kubectl patch deployment … --patch-file`):
 * its containers and volumes merge by name into the user's Deployment, so it names the
 * Deployment and its container (by default the service account's name, as in the runbook).
 * Generated with the `yaml` library; `test/unit/resources/manifests.test.ts` validates every
 * object against the Kubernetes schemas of its kind.
 */
import YAML from 'yaml';
import type { Link } from '#link/model';
import { clusterKey, shortHash, sourceRoleArnOf } from '#link/names';

/** Where the kubeconfig Secret is mounted in the container. */
export const KUBECONFIG_MOUNT_ROOT = '/etc/tether';
/** KIAM's pod annotation naming the role a pod gets (the KIAM / Cluster API runbook). */
export const KIAM_ROLE_ANNOTATION = 'iam.amazonaws.com/role';
/** EKS's service-account annotation naming the IRSA role. */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

/** A DNS-1123 label from free text: lowercase alphanumerics and `-`, at most `max` characters. */
function dnsLabel(text: string, max: number): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return cleaned.slice(0, max).replace(/-+$/g, '') || 'x';
}

/** Names of what the manifests make: the Secret, its volume and its mount, from the link alone. */
export function manifestNames(link: Pick<Link, 'spec'>) {
  const { target } = link.spec;
  // Two targets of the same name in different accounts stay apart: a hash of the target key.
  const suffix = `${dnsLabel(target.cluster, 30)}-${shortHash([clusterKey(target)], 8)}`;
  return {
    secret: `tether-kubeconfig-${suffix}`,
    volume: dnsLabel(`tether-${suffix}`, 63),
    mountPath: `${KUBECONFIG_MOUNT_ROOT}/${suffix}`,
  };
}

export interface ManifestOptions {
  /** The Deployment to patch. @default the service account's name */
  readonly deployment?: string;
  /** The container in it that uses the kubeconfig. @default the Deployment's name */
  readonly container?: string;
}

/** The Kubernetes objects, in apply order. */
export function manifestObjects(
  link: Pick<Link, 'spec'>,
  kubeconfig: string,
  options: ManifestOptions = {},
): Record<string, unknown>[] {
  const { source } = link.spec;
  const names = manifestNames(link);
  const deployment = options.deployment ?? source.serviceAccount;
  // A container name is a DNS-1123 label: no dots, which a Deployment name may have.
  const container = options.container ?? dnsLabel(deployment, 63);
  const principal = link.spec.identity.mode === 'principal';
  const roleArn = sourceRoleArnOf(link.spec);
  const labels = { 'app.kubernetes.io/managed-by': 'tether' };
  const objects: Record<string, unknown>[] = [];
  if (!principal) {
    objects.push({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: source.serviceAccount,
        namespace: source.namespace,
        labels,
        ...(link.spec.identity.mode === 'pod-identity'
          ? {}
          : { annotations: { [IRSA_ROLE_ANNOTATION]: roleArn } }),
      },
    });
  }
  objects.push({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: names.secret, namespace: source.namespace, labels },
    // The kubeconfig holds no credential, only how to get one: still a Secret, as the runbook keeps it.
    stringData: { config: kubeconfig },
  });
  objects.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deployment, namespace: source.namespace },
    spec: {
      template: {
        ...(principal ? { metadata: { annotations: { [KIAM_ROLE_ANNOTATION]: roleArn } } } : {}),
        spec: {
          ...(principal ? {} : { serviceAccountName: source.serviceAccount }),
          volumes: [{ name: names.volume, secret: { secretName: names.secret } }],
          containers: [
            {
              name: container,
              env: [{ name: 'KUBECONFIG', value: `${names.mountPath}/config` }],
              volumeMounts: [{ name: names.volume, mountPath: names.mountPath, readOnly: true }],
            },
          ],
        },
      },
    },
  });
  return objects;
}

/**
 * The manifests as one multi-document YAML stream.
 *
 * @example
 * renderManifests(link, link.outputs.kubeconfig); // 'apiVersion: v1\nkind: ServiceAccount\n…\n---\n…'
 */
export function renderManifests(link: Pick<Link, 'spec'>, kubeconfig: string, options: ManifestOptions = {}) {
  const objects = manifestObjects(link, kubeconfig, options);
  return objects.map((o) => new YAML.Document(o).toString({ lineWidth: 0 })).join('---\n');
}
