/**
 * The Kubernetes adapter: Tether's Kubernetes API (`#aws/kubernetes`, the aws-auth
 * ConfigMap) answered by a cluster of the sandbox instead of a real API server. Like the
 * real client, it reads a missing ConfigMap as `undefined` and a write that lost a race
 * (Conflict, AlreadyExists) as a ConcurrentUpdateError.
 */
import { type KubernetesApi, type KubernetesTarget, kubernetesStatusError } from '#aws/kubernetes';
import { ConcurrentUpdateError } from '#link/errors';
import type { Sandbox } from '#local/sandbox/index';

/** The reason of a sandbox Kubernetes error (`SandboxError.code`: NotFound, Conflict, …). */
const kubeCode = (err: unknown) => (err as { code?: string }).code ?? (err as Error).name;

/**
 * The Kubernetes API of a sandbox cluster (aws-auth), called with the agent role's keys.
 *
 * @example
 * new AwsClients({ ..., kubernetes: (target, credentials) => sandboxKubernetes(sandbox, target, credentials) });
 */
export function sandboxKubernetes(
  sandbox: Sandbox,
  target: KubernetesTarget,
  credentials: unknown,
): KubernetesApi {
  const call = async (operation: string, input: Record<string, unknown>) => {
    const identity =
      typeof credentials === 'function' ? await (credentials as () => Promise<any>)() : (credentials as any);
    try {
      return await sandbox.invoke(
        'kubernetes',
        operation,
        { clusterName: target.cluster, ...input },
        {
          accessKeyId: identity.accessKeyId,
          region: target.region,
        },
      );
    } catch (err) {
      if (kubeCode(err) === 'Conflict' || kubeCode(err) === 'AlreadyExists') {
        throw new ConcurrentUpdateError((err as Error).message, { cause: err });
      }
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 401 || status === 403) {
        throw kubernetesStatusError(target.cluster, operation, status, (err as Error).message);
      }
      throw err;
    }
  };
  return {
    async getConfigMap(namespace, name) {
      try {
        const out = (await call('GetConfigMap', { namespace, name })) as any;
        return { data: out.configMap.data ?? {}, resourceVersion: out.configMap.metadata.resourceVersion };
      } catch (err) {
        if (kubeCode(err) === 'NotFound') return undefined;
        throw err;
      }
    },
    async replaceConfigMap(namespace, name, data, resourceVersion) {
      await call('ReplaceConfigMap', { namespace, name, data, resourceVersion });
    },
    async createConfigMap(namespace, name, data) {
      await call('CreateConfigMap', { namespace, name, data });
    },
  };
}
