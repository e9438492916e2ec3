/**
 * The Kubernetes API of a target cluster, for the one object Tether touches there: the
 * `aws-auth` ConfigMap of clusters in `CONFIG_MAP` authentication mode (the cross-account IRSA runbook, step 5: docs/runbooks.md#the-cross-account-irsa-runbook,
 * option A). In AWS it speaks HTTPS to the cluster endpoint with an EKS token (a presigned
 * STS GetCallerIdentity URL, as `aws eks get-token` makes); locally the sandbox answers.
 */
import { request } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import YAML from 'yaml';
import { NodeSha256 } from './sha256';
import {
  ConcurrentUpdateError,
  KubernetesAccessDeniedError,
  KubernetesApiUnreachableError,
} from '#link/errors';

export interface ConfigMap {
  readonly data: Record<string, string>;
  readonly resourceVersion: string;
}

/** What Tether needs of a cluster's Kubernetes API. */
export interface KubernetesApi {
  /** The ConfigMap, or undefined when it does not exist. */
  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  /** Replaces the data; {@link ConcurrentUpdateError} when `resourceVersion` is stale. */
  replaceConfigMap(
    namespace: string,
    name: string,
    data: Record<string, string>,
    resourceVersion: string,
  ): Promise<void>;
  /** Creates it; {@link ConcurrentUpdateError} when it appeared meanwhile. */
  createConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<void>;
}

/** Where the `aws-auth` ConfigMap lives. */
export const AWS_AUTH_NAMESPACE = 'kube-system';
export const AWS_AUTH_NAME = 'aws-auth';

/** One `mapRoles` entry of `aws-auth`. */
export interface MapRole {
  rolearn: string;
  username?: string;
  groups?: string[];
}

/** The `aws-auth` ConfigMap as read (undefined when it does not exist) and its `mapRoles`, parsed. */
export interface AwsAuth {
  readonly configMap?: ConfigMap;
  readonly mapRoles: readonly MapRole[];
}

/**
 * Reads `aws-auth` and parses its `mapRoles` (YAML); a missing ConfigMap or key is no roles.
 *
 * @example
 * const { mapRoles } = await readAwsAuth(kube);
 */
export async function readAwsAuth(kube: KubernetesApi): Promise<AwsAuth> {
  const configMap = await kube.getConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME);
  const mapRoles = ((configMap ? YAML.parse(configMap.data.mapRoles ?? '') : undefined) ?? []) as MapRole[];
  return { ...(configMap ? { configMap } : {}), mapRoles };
}

/**
 * Writes `mapRoles` back over what {@link readAwsAuth} read (other keys kept), or creates the
 * ConfigMap; {@link ConcurrentUpdateError} when someone else wrote it in between.
 */
export async function writeAwsAuth(kube: KubernetesApi, read: AwsAuth, mapRoles: readonly MapRole[]) {
  const data = { ...(read.configMap?.data ?? {}), mapRoles: YAML.stringify(mapRoles) };
  if (read.configMap) {
    await kube.replaceConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME, data, read.configMap.resourceVersion);
  } else {
    await kube.createConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME, data);
  }
}

/**
 * The error for a Kubernetes API answer Tether did not expect: 401 (the agent role is not
 * mapped to any Kubernetes user) and 403 (RBAC refuses it) are {@link KubernetesAccessDeniedError},
 * a stable code the user can act on; anything else is unexpected.
 */
export function kubernetesStatusError(cluster: string, what: string, status: number, message: string): Error {
  const text = `Kubernetes API of ${cluster}: ${what} answered ${status}: ${message}`;
  if (status === 401 || status === 403) {
    return new KubernetesAccessDeniedError(
      `${text} (map Tether's agent role to a Kubernetes identity that may edit kube-system/aws-auth)`,
    );
  }
  return new Error(text);
}

export interface KubernetesTarget {
  readonly accountId: string;
  readonly region: string;
  readonly cluster: string;
  readonly endpoint: string;
  /** Base64 PEM of the cluster CA. */
  readonly certificateAuthority: string;
}

/**
 * An EKS bearer token: `k8s-aws-v1.` + base64url of a presigned STS GetCallerIdentity URL
 * carrying the `x-k8s-aws-id` header (what `aws eks get-token` does).
 */
export async function eksToken(
  cluster: string,
  region: string,
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
): Promise<string> {
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: NodeSha256 });
  const hostname = `sts.${region}.amazonaws.com`;
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': cluster },
    },
    { expiresIn: 60 },
  );
  const query = Object.entries(presigned.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString('base64url')}`;
}

/** The Kubernetes API over HTTPS, authenticated as the agent role. */
export function httpsKubernetesApi(
  target: KubernetesTarget,
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
): KubernetesApi {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const token = await eksToken(target.cluster, target.region, credentials);
    const url = new URL(path, target.endpoint);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: Buffer.from(target.certificateAuthority, 'base64'),
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
          });
        },
      );
      // A socket-level failure (no such host, refused, timed out) is the cluster being out of
      // reach from the hub, not a bug: a stable error the workflow retries, then records.
      req.on('error', (err) =>
        reject(
          new KubernetesApiUnreachableError(
            `Kubernetes API of ${target.cluster} (${url.host}): ${err.message}`,
            { cause: err },
          ),
        ),
      );
      req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
      if (body !== undefined) req.write(JSON.stringify(body));
      req.end();
    });
  };
  const fail = (what: string, res: { status: number; json: any }) =>
    kubernetesStatusError(target.cluster, what, res.status, res.json?.message ?? '');
  return {
    async getConfigMap(namespace, name) {
      const res = await call('GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw fail('get configmap', res);
      return { data: res.json.data ?? {}, resourceVersion: res.json.metadata.resourceVersion };
    },
    async replaceConfigMap(namespace, name, data, resourceVersion) {
      const res = await call('PUT', `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, resourceVersion },
        data,
      });
      if (res.status === 409)
        throw new ConcurrentUpdateError(`ConfigMap ${namespace}/${name} changed meanwhile`);
      if (res.status !== 200) throw fail('replace configmap', res);
    },
    async createConfigMap(namespace, name, data) {
      const res = await call('POST', `/api/v1/namespaces/${namespace}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace },
        data,
      });
      if (res.status === 409)
        throw new ConcurrentUpdateError(`ConfigMap ${namespace}/${name} appeared meanwhile`);
      if (res.status !== 201 && res.status !== 200) throw fail('create configmap', res);
    },
  };
}
