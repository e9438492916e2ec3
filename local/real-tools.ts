/**
 * The proof with the real tools: runs `kubectl` with a link's kubeconfig as Tether renders
 * it, the way it runs in the workload's pod — the projected service-account token at the
 * path the kubelet mounts it (`/var/run/secrets/eks.amazonaws.com/serviceaccount/token`,
 * named in the kubeconfig), the AWS CLI for the exec plugin — with the sandbox's HTTP door
 * as `AWS_ENDPOINT_URL`. So the chain is the real one: the AWS CLI's web identity provider
 * (AssumeRoleWithWebIdentity) → `--role-arn` (AssumeRole) → a presigned GetCallerIdentity
 * (`aws eks get-token`) → the cluster's Kubernetes API (TLS, the cluster's CA) → its
 * authenticator → STS → the access entry → the access policy.
 *
 * On Linux the token is put at the kubelet's path inside a private mount namespace
 * (`unshare --mount`, with `--user --map-root-user` when not root), so the kubeconfig is
 * used byte for byte and nothing on the machine changes. Where that is not possible the
 * kubeconfig's `AWS_WEB_IDENTITY_TOKEN_FILE` is pointed at the token's file instead, and
 * the result says so (`tokenAtKubeletPath: false`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';

/** Where the kubelet mounts the IRSA token (EKS pod identity webhook). */
export const KUBELET_TOKEN_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The real tools the proof needs that are not on the PATH (`kubectl`, `aws`). */
export function missingTools(): string[] {
  return ['kubectl', 'aws'].filter((t) => !onPath(t));
}

let namespaceArgs: string[] | null | undefined;

/** The `unshare` arguments that give a private mount namespace here, or null. */
function mountNamespace(): string[] | null {
  if (namespaceArgs !== undefined) return namespaceArgs;
  namespaceArgs = null;
  if (process.platform !== 'linux' || !onPath('unshare')) return namespaceArgs;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  for (const args of root
    ? [['--mount'], ['--user', '--map-root-user', '--mount']]
    : [['--user', '--map-root-user', '--mount']]) {
    try {
      const dir = mkdtempSync(join(tmpdir(), 'tether-ns-'));
      execFileSync(
        'unshare',
        [...args, '--propagation', 'private', 'sh', '-c', `mount --bind "${dir}" /run`],
        {
          stdio: 'ignore',
          timeout: 5000,
        },
      );
      rmSync(dir, { recursive: true, force: true });
      namespaceArgs = args;
      break;
    } catch {
      // try the next way, or fall back
    }
  }
  return namespaceArgs;
}

/** What {@link runKubectl} runs. */
export interface KubectlRun {
  /** The kubeconfig exactly as Tether served it. */
  readonly kubeconfig: string;
  /** The workload's projected service-account token (`npm run token`). */
  readonly token: string;
  /** The sandbox's AWS door (`AWS_ENDPOINT_URL`). */
  readonly awsEndpoint: string;
  /** kubectl's arguments, after `--kubeconfig`. */
  readonly args: readonly string[];
  /**
   * AWS credentials in the tools' environment, for a kubeconfig that uses the default chain
   * (an existing principal's link: the pod has that role's credentials, as KIAM gives them).
   * @default none
   */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** @default 60000 */
  readonly timeoutMs?: number;
}

/** How a run ended. */
export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The token was at the kubelet's path and the kubeconfig used unchanged. */
  readonly tokenAtKubeletPath: boolean;
}

/** The environment the tools get: only what the proof sets, so no local AWS profile or kubeconfig leaks in. */
function toolEnv(home: string, awsEndpoint: string): NodeJS.ProcessEnv {
  writeFileSync(join(home, 'aws-config'), '');
  writeFileSync(join(home, 'aws-credentials'), '');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_ENDPOINT_URL: awsEndpoint,
    AWS_CONFIG_FILE: join(home, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/** Runs `kubectl --kubeconfig <the link's kubeconfig> <args>` through the real chain. */
export async function runKubectl(run: KubectlRun): Promise<KubectlResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-kubectl-'));
  try {
    const home = join(dir, 'home');
    const run_ = join(dir, 'run');
    mkdirSync(home);
    const tokenDir = join(run_, KUBELET_TOKEN_DIR.replace(/^\/var\/run\//, ''));
    mkdirSync(tokenDir, { recursive: true });
    writeFileSync(join(tokenDir, 'token'), run.token);
    const env = toolEnv(home, run.awsEndpoint);
    if (run.credentials) {
      env.AWS_ACCESS_KEY_ID = run.credentials.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = run.credentials.secretAccessKey;
      if (run.credentials.sessionToken) env.AWS_SESSION_TOKEN = run.credentials.sessionToken;
    }
    const ns = mountNamespace();
    let kubeconfig = run.kubeconfig;
    if (!ns) {
      const doc = YAML.parse(kubeconfig) as {
        users?: { user?: { exec?: { env?: { name: string; value: string }[] } } }[];
      };
      for (const u of doc.users ?? [])
        for (const e of u.user?.exec?.env ?? [])
          if (e.name === 'AWS_WEB_IDENTITY_TOKEN_FILE') e.value = join(tokenDir, 'token');
      kubeconfig = YAML.stringify(doc);
    }
    const kubeconfigFile = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigFile, kubeconfig);
    const kubectl = ['kubectl', '--kubeconfig', kubeconfigFile, '--request-timeout=30s', ...run.args];
    const [file, args] = ns
      ? [
          'unshare',
          [
            ...ns,
            '--propagation',
            'private',
            'sh',
            '-c',
            'mount --bind "$0" /run && exec "$@"',
            run_,
            ...kubectl,
          ],
        ]
      : [kubectl[0] as string, kubectl.slice(1)];
    return await new Promise<KubectlResult>((resolve) => {
      execFile(
        file,
        args,
        { env, timeout: run.timeoutMs ?? 60_000, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr, tokenAtKubeletPath: ns !== null });
        },
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
