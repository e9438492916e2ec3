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
 *   Secret, and the Deployment patch running as that service account;
 * - `roles-anywhere` (the Roles Anywhere runbook, seed 002): the ServiceAccount (no role
 *   annotation), the cert-manager Issuer of the cluster's CA Secret, the workload's
 *   Certificate (CN `<serviceAccount>.<namespace>`, the one the role's trust requires), the
 *   ConfigMap of ARNs, the kubeconfig Secret, and the Deployment patch adding the
 *   `aws_signing_helper serve` sidecar that the app's SDK reaches as its metadata endpoint.
 *
 * The Deployment object is a strategic-merge patch (`kubectl patch deployment … --patch-file`):
 * its containers and volumes merge by name into the user's Deployment, so it names the
 * Deployment and its container (by default the service account's name, as in the runbook).
 * Generated with the `yaml` library; `test/unit/resources/manifests.test.ts` validates every
 * object against the Kubernetes schemas of its kind.
 */
import YAML from 'yaml';
import type { Link } from '#link/model';
import { pemFingerprint, workloadCommonName } from '#link/certificates';
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
  link: Pick<Link, 'spec'> & { readonly outputs?: Link['outputs'] },
  kubeconfig: string,
  options: ManifestOptions = {},
): Record<string, unknown>[] {
  const { source } = link.spec;
  if (link.spec.identity.mode === 'roles-anywhere') return rolesAnywhereObjects(link, kubeconfig, options);
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
export function renderManifests(
  link: Pick<Link, 'spec'> & { readonly outputs?: Link['outputs'] },
  kubeconfig: string,
  options: ManifestOptions = {},
) {
  const objects = manifestObjects(link, kubeconfig, options);
  return objects.map((o) => new YAML.Document(o).toString({ lineWidth: 0 })).join('---\n');
}

/**
 * The cert-manager Issuer and CA Secret of one CA (per namespace that uses it), named by the
 * CA's fingerprint like its trust anchor, so two CAs never share an Issuer.
 */
export function raIssuerNames(caFingerprint: string): { issuer: string; secret: string } {
  const id = caFingerprint.slice(0, 16);
  return { issuer: `tether-ra-${id}`, secret: `tether-ra-${id}-ca` };
}
/** Where the sidecar serves credentials, as EC2's metadata service would (`aws_signing_helper serve`). */
export const RA_SIGNING_HELPER_ENDPOINT = 'http://127.0.0.1:9911/';
export const RA_SIGNING_HELPER_IMAGE = 'public.ecr.aws/rolesanywhere/aws-signing-helper:latest';
const RA_CERT_MOUNT = '/var/run/secrets/tether-roles-anywhere';

/** The objects of mode `roles-anywhere` (see the file comment), in apply order. */
function rolesAnywhereObjects(
  link: Pick<Link, 'spec'> & { readonly outputs?: Link['outputs'] },
  kubeconfig: string,
  options: ManifestOptions,
): Record<string, unknown>[] {
  const { source } = link.spec;
  const names = manifestNames(link);
  const deployment = options.deployment ?? source.serviceAccount;
  const container = options.container ?? dnsLabel(deployment, 63);
  const labels = { 'app.kubernetes.io/managed-by': 'tether' };
  const base = dnsLabel(`${source.serviceAccount}-roles-anywhere`, 63);
  const namespace = source.namespace;
  const outputs = link.outputs ?? {};
  const ca = raIssuerNames(pemFingerprint(link.spec.identity.caCertificate) ?? '');
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: source.serviceAccount, namespace, labels },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: ca.issuer, namespace, labels },
      spec: { ca: { secretName: ca.secret } },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: base, namespace, labels },
      spec: {
        commonName: workloadCommonName(source),
        duration: '24h0m0s',
        renewBefore: '5m0s',
        secretName: base,
        privateKey: { algorithm: 'RSA', size: 2048, rotationPolicy: 'Always' },
        usages: ['client auth', 'digital signature'],
        issuerRef: { kind: 'Issuer', name: ca.issuer },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: base, namespace, labels },
      data: {
        TRUST_ANCHOR_ARN: outputs.trustAnchorArn ?? '',
        PROFILE_ARN: outputs.profileArn ?? '',
        ROLE_ARN: outputs.workloadRoleArn ?? sourceRoleArnOf(link.spec),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: names.secret, namespace, labels },
      stringData: { config: kubeconfig },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: deployment, namespace },
      spec: {
        template: {
          spec: {
            serviceAccountName: source.serviceAccount,
            volumes: [
              { name: names.volume, secret: { secretName: names.secret } },
              { name: base, secret: { secretName: base } },
            ],
            containers: [
              {
                name: container,
                env: [
                  { name: 'KUBECONFIG', value: `${names.mountPath}/config` },
                  { name: 'AWS_EC2_METADATA_SERVICE_ENDPOINT', value: RA_SIGNING_HELPER_ENDPOINT },
                ],
                volumeMounts: [{ name: names.volume, mountPath: names.mountPath, readOnly: true }],
              },
              {
                name: 'tether-roles-anywhere',
                image: RA_SIGNING_HELPER_IMAGE,
                args: [
                  'serve',
                  '--certificate',
                  `${RA_CERT_MOUNT}/tls.crt`,
                  '--private-key',
                  `${RA_CERT_MOUNT}/tls.key`,
                  '--trust-anchor-arn',
                  '$(TRUST_ANCHOR_ARN)',
                  '--profile-arn',
                  '$(PROFILE_ARN)',
                  '--role-arn',
                  '$(ROLE_ARN)',
                ],
                envFrom: [{ configMapRef: { name: base } }],
                securityContext: {
                  runAsNonRoot: true,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                },
                volumeMounts: [{ name: base, mountPath: RA_CERT_MOUNT, readOnly: true }],
              },
            ],
          },
        },
      },
    },
  ];
}
