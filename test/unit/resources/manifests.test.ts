/**
 * The manifests of `GET /links/{id}/manifests`, per identity mode, validated against the
 * Kubernetes OpenAPI schemas of their kinds (the `kubernetes-models` package: JSON schemas
 * generated from the Kubernetes API's OpenAPI document, with a validator per kind). The
 * Deployment object is a strategic-merge patch, which is not a whole Deployment: it is
 * merged (containers and volumes by name, as `kubectl patch` does) into the runbook's
 * Deployment, and the result is validated as a Deployment; its container and volume are
 * validated against their own schemas too.
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Container } from 'kubernetes-models/v1/Container';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Volume } from 'kubernetes-models/v1/Volume';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { LinkSpec } from '#link/model';
import { roleArn, workloadRoleName } from '#link/names';
import { KIAM_ROLE_ANNOTATION, manifestNames, renderManifests } from '#resources/manifests';

const SOURCE = {
  accountId: '111111111111',
  region: 'ap-southeast-1',
  cluster: 'cluster-a',
  namespace: 'kubeai-chatbot',
  serviceAccount: 'kubeai-chatbot',
};
const base: LinkSpec = {
  source: SOURCE,
  target: { accountId: '222222222222', region: 'ap-southeast-1', cluster: 'cluster-b' },
  access: {
    policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
    scope: { type: 'cluster' },
  },
  network: { mode: 'nat' },
  identity: { mode: 'irsa' },
};
const PRINCIPAL = 'arn:aws:iam::111111111111:role/kiam/kiam-server';
const KUBECONFIG = 'apiVersion: v1\nkind: Config\nclusters: []\n';

/** The Deployment of the cross-account IRSA runbook (seed 000), as the user has it. */
const runbookDeployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'kubeai-chatbot', namespace: 'kubeai-chatbot' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'kubeai-chatbot' } },
    template: {
      metadata: { labels: { app: 'kubeai-chatbot' } },
      spec: {
        containers: [
          {
            name: 'kubeai-chatbot',
            image: 'public.ecr.aws/example/chatbot:1',
            ports: [{ containerPort: 8080 }],
          },
        ],
      },
    },
  },
});

type Obj = Record<string, any>;

/** A strategic merge as `kubectl patch` does it for these fields: maps merge, lists of named items merge by `name`. */
function strategicMerge(target: any, patch: any): any {
  if (Array.isArray(patch) && Array.isArray(target)) {
    const out = [...target];
    for (const item of patch) {
      const at = out.findIndex((x) => x?.name !== undefined && x.name === item?.name);
      if (at >= 0) out[at] = strategicMerge(out[at], item);
      else out.push(item);
    }
    return out;
  }
  if (patch && typeof patch === 'object' && target && typeof target === 'object' && !Array.isArray(patch)) {
    const out: Obj = { ...target };
    for (const [k, v] of Object.entries(patch)) out[k] = k in target ? strategicMerge(target[k], v) : v;
    return out;
  }
  return patch;
}

const docs = (spec: LinkSpec, options = {}) =>
  YAML.parseAllDocuments(renderManifests({ spec }, KUBECONFIG, options)).map((d) => d.toJS() as Obj);

describe('manifests of an irsa link (role chain or direct access)', () => {
  for (const identity of [{ mode: 'irsa' as const }, { mode: 'irsa' as const, directAccess: true }]) {
    it(`are a valid ServiceAccount, Secret and Deployment patch${identity.directAccess ? ' (direct access)' : ''}`, () => {
      // Arrange / Act
      const [sa, secret, patch] = docs({ ...base, identity });
      // Assert
      expect([sa?.kind, secret?.kind, patch?.kind]).toEqual(['ServiceAccount', 'Secret', 'Deployment']);
      expect(() => new ServiceAccount(sa as never).validate()).not.toThrow();
      expect(() => new Secret(secret as never).validate()).not.toThrow();
      expect(sa?.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(
        roleArn(SOURCE.accountId, workloadRoleName(SOURCE)),
      );
      expect(secret?.stringData.config).toBe(KUBECONFIG);
      const podSpec = patch?.spec.template.spec;
      expect(() => new Container(podSpec.containers[0]).validate()).not.toThrow();
      expect(() => new Volume(podSpec.volumes[0]).validate()).not.toThrow();
      const merged = strategicMerge(runbookDeployment(), patch);
      expect(() => new Deployment(merged).validate()).not.toThrow();
      const names = manifestNames({ spec: base });
      expect(merged.spec.template.spec.serviceAccountName).toBe(SOURCE.serviceAccount);
      expect(merged.spec.template.spec.containers[0]).toMatchObject({
        image: 'public.ecr.aws/example/chatbot:1',
        env: [{ name: 'KUBECONFIG', value: `${names.mountPath}/config` }],
        volumeMounts: [{ name: names.volume, mountPath: names.mountPath, readOnly: true }],
      });
      expect(merged.spec.template.spec.volumes).toEqual([
        { name: names.volume, secret: { secretName: names.secret } },
      ]);
    });
  }

  it('names the Deployment and container asked for', () => {
    const [, , patch] = docs(base, { deployment: 'chat', container: 'app' });
    expect(patch?.metadata.name).toBe('chat');
    expect(patch?.spec.template.spec.containers[0].name).toBe('app');
  });

  it('keeps two targets of the same name in different accounts apart', () => {
    const other = { ...base, target: { ...base.target, accountId: '333333333333' } };
    expect(manifestNames({ spec: other }).secret).not.toBe(manifestNames({ spec: base }).secret);
  });

  it('refuses nothing the schema would: a wrong object fails validation (the check has teeth)', () => {
    const [sa] = docs(base);
    expect(() =>
      new ServiceAccount({ ...sa, automountServiceAccountToken: 'yes' } as never).validate(),
    ).toThrow();
  });
});

describe('manifests of a principal link', () => {
  const spec: LinkSpec = {
    ...base,
    network: { mode: 'none' },
    identity: { mode: 'principal', principalArn: PRINCIPAL },
  };

  it('are a valid Secret and Deployment patch with KIAM’s role annotation, and no ServiceAccount', () => {
    const objects = docs(spec);
    expect(objects.map((o) => o.kind)).toEqual(['Secret', 'Deployment']);
    const [secret, patch] = objects;
    expect(() => new Secret(secret as never).validate()).not.toThrow();
    expect(patch?.spec.template.metadata.annotations[KIAM_ROLE_ANNOTATION]).toBe(PRINCIPAL);
    expect(patch?.spec.template.spec.serviceAccountName).toBeUndefined();
    const merged = strategicMerge(runbookDeployment(), patch);
    expect(() => new Deployment(merged).validate()).not.toThrow();
    expect(merged.spec.template.metadata.labels).toEqual({ app: 'kubeai-chatbot' });
  });
});

describe('manifests of a pod-identity link', () => {
  const spec: LinkSpec = { ...base, identity: { mode: 'pod-identity' } };

  it('are a valid ServiceAccount without the IRSA annotation, Secret and Deployment patch', () => {
    // Arrange / Act
    const [sa, secret, patch, ...rest] = docs(spec);
    // Assert
    expect(rest).toEqual([]);
    expect([sa?.kind, secret?.kind, patch?.kind]).toEqual(['ServiceAccount', 'Secret', 'Deployment']);
    expect(() => new ServiceAccount(sa as never).validate()).not.toThrow();
    expect(() => new Secret(secret as never).validate()).not.toThrow();
    // The association names the roles; an IRSA annotation would make the SDK take IRSA first.
    expect(sa?.metadata.annotations).toBeUndefined();
    expect(sa?.metadata).toMatchObject({ name: SOURCE.serviceAccount, namespace: SOURCE.namespace });
    expect(secret?.stringData.config).toBe(KUBECONFIG);
    const merged = strategicMerge(runbookDeployment(), patch);
    expect(() => new Deployment(merged).validate()).not.toThrow();
    const names = manifestNames({ spec });
    expect(merged.spec.template.spec.serviceAccountName).toBe(SOURCE.serviceAccount);
    expect(merged.spec.template.spec.containers[0]).toMatchObject({
      env: [{ name: 'KUBECONFIG', value: `${names.mountPath}/config` }],
      volumeMounts: [{ name: names.volume, mountPath: names.mountPath, readOnly: true }],
    });
  });
});
