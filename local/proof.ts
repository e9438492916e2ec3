/**
 * The end of `npm start`'s demo: the link's kubeconfig used by the real `kubectl` and AWS
 * CLI through the real chain (local/real-tools.ts) — one request the access policy allows
 * and one it forbids — or, without the tools, what to install. It also leaves the
 * kubeconfig and the workload's token in the data directory (`demo/`) for doing it by hand
 * (README, "The proof with kubectl").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalRuntime } from './runtime';
import { missingTools, runKubectl } from './real-tools';

interface DemoLink {
  readonly id: string;
  readonly spec: {
    readonly source: {
      readonly accountId: string;
      readonly region: string;
      readonly cluster: string;
      readonly namespace: string;
      readonly serviceAccount: string;
    };
    readonly target: { readonly cluster: string };
  };
}

const firstLine = (text: string, pattern: RegExp) =>
  text
    .split('\n')
    .find((l) => pattern.test(l))
    ?.trim() ??
  text.trim().split('\n').pop()?.trim() ??
  '';

/** Runs the proof and prints both outcomes; returns true when both came out as the policy says. */
export async function proveWithRealTools(
  rt: LocalRuntime,
  link: DemoLink,
  kubeconfig: string,
  dataDir: string,
): Promise<boolean> {
  if (!rt.doors) return false;
  const { source, target } = link.spec;
  const issuer = rt.sandbox.peek(
    (s) => s.accounts[source.accountId]?.regions[source.region]?.eks.clusters[source.cluster]?.oidcIssuer,
  );
  if (!issuer) return false;
  const token = await rt.sandbox.mintServiceAccountToken({
    issuer,
    namespace: source.namespace,
    serviceAccount: source.serviceAccount,
  });
  const demoDir = join(dataDir, 'demo');
  mkdirSync(demoDir, { recursive: true });
  writeFileSync(join(demoDir, 'kubeconfig'), kubeconfig);
  writeFileSync(join(demoDir, 'token'), token, { mode: 0o600 });

  console.log('\nThe proof with the real tools: the kubeconfig above, used as the workload would use it');
  const missing = missingTools();
  if (missing.length > 0) {
    console.log(
      `  ${missing.join(' and ')} not on the PATH: install kubectl (https://kubernetes.io/docs/tasks/tools/) and the AWS CLI (https://aws.amazon.com/cli/) to see kubectl use this kubeconfig through the sandbox (README: "The proof with kubectl").`,
    );
    return false;
  }
  console.log(
    `  token: ${source.namespace}/${source.serviceAccount} from ${source.cluster}'s OIDC issuer, at the kubelet's path; AWS_ENDPOINT_URL=${rt.doors.aws.url}`,
  );
  const allowed = await runKubectl({
    kubeconfig,
    token,
    awsEndpoint: rt.doors.aws.url,
    args: ['get', 'namespaces'],
  });
  const names = allowed.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .filter(Boolean);
  const okAllowed = allowed.code === 0;
  console.log(
    okAllowed
      ? `  ✓ kubectl get namespaces → ${names.length} namespaces of ${target.cluster}: ${names.join(', ')}`
      : `  ✗ kubectl get namespaces failed (exit ${allowed.code}): ${firstLine(allowed.stderr, /error|Error/)}`,
  );
  const forbidden = await runKubectl({
    kubeconfig,
    token,
    awsEndpoint: rt.doors.aws.url,
    args: ['get', 'secrets', '-n', 'default'],
  });
  const okForbidden = forbidden.code !== 0 && forbidden.stderr.includes('(Forbidden)');
  console.log(
    okForbidden
      ? `  ✓ kubectl get secrets -n default → refused, as the access policy says: ${firstLine(forbidden.stderr, /Forbidden/)}`
      : `  ✗ kubectl get secrets -n default → exit ${forbidden.code}, not the Forbidden the access policy calls for: ${firstLine(forbidden.stderr || forbidden.stdout, /./)}`,
  );
  console.log(
    `  by hand: the kubeconfig and token are in ${demoDir}/ (README, "The proof with kubectl"); npm run -s token mints a fresh token`,
  );
  return okAllowed && okForbidden;
}
