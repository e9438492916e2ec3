/**
 * The local runtime's verify mode with the real tools: a link's kubeconfig, as Tether
 * rendered it, used by the real `kubectl` and AWS CLI through the real chain
 * (local/real-tools.ts) — who the target cluster takes the workload for, one request the
 * access allows and one it forbids — and the outcome recorded on the link as the step
 * `realToolsProof` (`GET /links/{id}` shows it beside `verify`). `npm start` runs it at the
 * end of the demo and prints it. It also leaves the kubeconfig and the workload's token in
 * the data directory (`demo/`) for doing it by hand (README, "The proof with kubectl").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Access, Link, StepResult } from '#link/model';
import { kubernetesUsername } from '#link/names';
import type { LinkStore } from '#store/links';
import type { Sandbox } from '#local/sandbox/sandbox';
import type { AwsDoor } from '#local/adapters/aws-http/index';
import { missingTools, runKubectl } from './real-tools';

/** The name of the step the proof records on the link. */
export const REAL_TOOLS_STEP = 'realToolsProof';

/** One kubectl request of the proof. */
export interface ProofRequest {
  readonly command: string;
  /** What the access calls for. */
  readonly expect: 'allowed' | 'forbidden';
  readonly ok: boolean;
  /** The line of output that shows it. */
  readonly output: string;
}

/** What the proof found. */
export interface RealToolsProof {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  /** Why it was skipped (tools missing). */
  readonly reason?: string;
  /** The Kubernetes username the cluster gave the workload (`kubectl auth whoami`). */
  readonly username?: string;
  readonly requests: readonly ProofRequest[];
  /** The token was at the kubelet's path and the kubeconfig was used unchanged. */
  readonly tokenAtKubeletPath?: boolean;
}

const firstLine = (text: string, pattern: RegExp) =>
  text
    .split('\n')
    .find((l) => pattern.test(l))
    ?.trim() ??
  text.trim().split('\n').pop()?.trim() ??
  '';

/** One request the access allows and one it forbids (none for cluster-admin), per the access policy reference. */
function requestsFor(access: Access): { allowed: string[]; forbidden?: string[] } {
  if (!('policyArn' in access)) return { allowed: ['auth', 'can-i', '--list'] };
  const policy = access.policyArn.split('/').pop() ?? '';
  const ns = access.scope.type === 'namespace' ? access.scope.namespaces[0] : undefined;
  const allowed = ns ? ['get', 'pods', '-n', ns] : ['get', 'namespaces'];
  if (policy === 'AmazonEKSSecretReaderPolicy')
    return {
      allowed: ['get', 'secrets', '-n', ns ?? 'default'],
      forbidden: ['get', 'pods', '-n', ns ?? 'default'],
    };
  if (policy === 'AmazonEKSViewPolicy')
    return { allowed, forbidden: ['get', 'secrets', '-n', ns ?? 'default'] };
  if (policy === 'AmazonEKSAdminViewPolicy')
    return {
      allowed,
      forbidden: ['create', 'deployment', 'tether-proof', '--image=nginx', '-n', ns ?? 'default'],
    };
  if (policy === 'AmazonEKSClusterAdminPolicy') return { allowed };
  // Edit and Admin: no cluster-scoped RBAC.
  return { allowed, forbidden: ['create', 'clusterrole', 'tether-proof', '--verb=get', '--resource=pods'] };
}

/** What the proof needs of the runtime. */
export interface ProofDeps {
  readonly sandbox: Sandbox;
  readonly aws: AwsDoor;
  readonly links: LinkStore;
  /** Where to leave the kubeconfig and token for doing it by hand. */
  readonly dataDir?: string;
}

/**
 * Runs the proof for link `id` (ACTIVE, with a kubeconfig) and records it on the link;
 * without the tools it says so and records nothing (the link is not at fault).
 */
export async function proveLink(deps: ProofDeps, id: string): Promise<RealToolsProof> {
  const link: Link = await deps.links.get(id);
  const startedAt = new Date().toISOString();
  const proof = await run(deps, link);
  if (proof.status === 'SKIPPED') return proof;
  const result: StepResult = {
    status: proof.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
    startedAt,
    endedAt: new Date().toISOString(),
    attempts: 1,
    result: { ...proof },
    ...(proof.status === 'SUCCEEDED'
      ? {}
      : {
          error: {
            code: 'REAL_TOOLS_PROOF_FAILED',
            message:
              proof.reason ??
              proof.requests
                .filter((r) => !r.ok)
                .map((r) => `${r.command}: ${r.output}`)
                .join('; '),
          },
        }),
  };
  await deps.links.recordStep(id, REAL_TOOLS_STEP, result);
  return proof;
}

async function run(deps: ProofDeps, link: Link): Promise<RealToolsProof> {
  const { source } = link.spec;
  const kubeconfig = link.outputs.kubeconfig;
  if (!kubeconfig) return { status: 'FAILED', reason: 'the link has no kubeconfig', requests: [] };
  const issuer = deps.sandbox.peek(
    (s) => s.accounts[source.accountId]?.regions[source.region]?.eks.clusters[source.cluster]?.oidcIssuer,
  );
  if (!issuer) return { status: 'FAILED', reason: `${source.cluster} has no OIDC issuer`, requests: [] };
  const token = await deps.sandbox.mintServiceAccountToken({
    issuer,
    namespace: source.namespace,
    serviceAccount: source.serviceAccount,
  });
  if (deps.dataDir) {
    const demoDir = join(deps.dataDir, 'demo');
    mkdirSync(demoDir, { recursive: true });
    writeFileSync(join(demoDir, 'kubeconfig'), kubeconfig);
    writeFileSync(join(demoDir, 'token'), token, { mode: 0o600 });
  }
  const missing = missingTools();
  if (missing.length > 0)
    return { status: 'SKIPPED', reason: `${missing.join(' and ')} not on the PATH`, requests: [] };
  const kubectl = (args: string[]) => runKubectl({ kubeconfig, token, awsEndpoint: deps.aws.url, args });

  const whoami = await kubectl(['auth', 'whoami', '-o', 'json']);
  let username: string | undefined;
  try {
    username = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string } } }).status.userInfo
      .username;
  } catch {
    username = undefined;
  }
  const expectedUser = kubernetesUsername(link.spec).replace('{{SessionName}}', 'EKSGetTokenAuth');
  const requests: ProofRequest[] = [
    {
      command: 'kubectl auth whoami',
      expect: 'allowed',
      ok: whoami.code === 0 && username === expectedUser,
      output: whoami.code === 0 ? `${username ?? '?'}` : firstLine(whoami.stderr, /error|Error/),
    },
  ];
  const plan = requestsFor(link.spec.access);
  const allowed = await kubectl(plan.allowed);
  requests.push({
    command: `kubectl ${plan.allowed.join(' ')}`,
    expect: 'allowed',
    ok: allowed.code === 0,
    output:
      allowed.code === 0
        ? allowed.stdout
            .split('\n')
            .slice(1)
            .map((l) => l.split(/\s+/)[0])
            .filter(Boolean)
            .join(', ')
        : firstLine(allowed.stderr, /error|Error/),
  });
  if (plan.forbidden) {
    const forbidden = await kubectl(plan.forbidden);
    requests.push({
      command: `kubectl ${plan.forbidden.join(' ')}`,
      expect: 'forbidden',
      ok: forbidden.code !== 0 && forbidden.stderr.includes('forbidden'),
      output: firstLine(forbidden.stderr || forbidden.stdout, /forbidden|error|Error/),
    });
  }
  return {
    status: requests.every((r) => r.ok) ? 'SUCCEEDED' : 'FAILED',
    ...(username ? { username } : {}),
    requests,
    tokenAtKubeletPath: whoami.tokenAtKubeletPath,
  };
}

/** Prints a proof the way `npm start` shows it. */
export function printProof(proof: RealToolsProof, link: Link, awsUrl: string, dataDir: string): void {
  const { source } = link.spec;
  console.log('\nThe proof with the real tools: the kubeconfig above, used as the workload would use it');
  if (proof.status === 'SKIPPED') {
    console.log(
      `  ${proof.reason}: install kubectl (https://kubernetes.io/docs/tasks/tools/) and the AWS CLI (https://aws.amazon.com/cli/) to see kubectl use this kubeconfig through the sandbox (README: "The proof with kubectl").`,
    );
    return;
  }
  console.log(
    `  token: ${source.namespace}/${source.serviceAccount} from ${source.cluster}'s OIDC issuer${proof.tokenAtKubeletPath ? ", at the kubelet's path" : ''}; AWS_ENDPOINT_URL=${awsUrl}`,
  );
  if (proof.reason) console.log(`  ✗ ${proof.reason}`);
  for (const r of proof.requests)
    console.log(
      `  ${r.ok ? '✓' : '✗'} ${r.command} → ${r.expect === 'forbidden' && r.ok ? 'refused, as the access says: ' : ''}${r.output}`,
    );
  console.log(
    `  recorded on the link as steps.${REAL_TOOLS_STEP}; by hand: the kubeconfig and token are in ${join(dataDir, 'demo')}/ (README, "The proof with kubectl")`,
  );
}
