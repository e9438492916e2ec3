/**
 * `npm start`: the control plane on this machine, on embedded defaults. It starts the local
 * runtime, onboards the demo link of the cross-account IRSA runbook through the HTTP API, shows each step as it
 * completes, prints the link, what was made and the kubeconfig, and keeps serving.
 *
 * Options: --data-dir DIR (default .tether), --port N (default 8787, 0 = any free),
 * --no-demo (serve only), --once (exit after the demo).
 */
import './polyfills';
import { parseArgs } from 'node:util';
import { UNFINISHED } from '#link/lifecycle';
import { DEMO_REQUEST } from './demo';
import { startLocalRuntime } from './runtime';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.TETHER_DATA_DIR ?? '.tether' },
    port: { type: 'string', default: process.env.TETHER_PORT ?? '8787' },
    'no-demo': { type: 'boolean', default: false },
    once: { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not "${values.port}"`);
  process.exit(2);
}

const started = Date.now();
const rt = await startLocalRuntime({
  dataDir: values['data-dir'],
  port,
  onEvent: (_execution, event) => {
    if (event.stateType !== 'Task') return;
    if (event.type === 'StateExited') {
      console.log(`  ✓ ${event.state}${event.index !== undefined ? `  [target ${event.index + 1}]` : ''}`);
    } else if (event.type === 'StateRetried') {
      console.log(`  ↻ ${event.state}: retrying after ${event.error ?? 'an error'}`);
    } else if (event.type === 'StateFailed') {
      console.log(`  ✗ ${event.state}: ${event.error} ${event.cause ?? ''}`);
    }
  },
}).catch((err: NodeJS.ErrnoException) => {
  if (err.code === 'EADDRINUSE') {
    console.error(
      `Port ${port} is in use: stop what holds it, or pass --port N (--port 0 takes any free port).`,
    );
    process.exit(1);
  }
  if (err.name === 'DataDirectoryInUseError' || err.name === 'PolicyFileError') {
    // A policy file that does not validate: its file, line and column, and nothing started.
    console.error(err.message);
    process.exit(1);
  }
  throw err;
});

console.log(`Tether local control plane on ${rt.url}  (data: ${values['data-dir']})`);
if (rt.redriven.length)
  console.log(`Re-driving ${rt.redriven.length} link(s) a previous run left unfinished.`);

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${rt.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') ? JSON.parse(text) : text };
}

if (!values['no-demo']) {
  rt.sandbox.resetCalls();
  console.log(
    '\nOnboarding the demo link of the cross-account IRSA runbook: kubeai-chatbot/kubeai-chatbot in cluster-a (111111111111) → cluster-b (222222222222), AmazonEKSViewPolicy, cluster scope',
  );
  console.log(`POST ${rt.url}/links`);
  const created = await api('POST', '/links', DEMO_REQUEST);
  if (created.status >= 400) {
    console.error(`The API refused the demo request: ${JSON.stringify(created.body, null, 2)}`);
    process.exit(1);
  }
  const summary = created.body.links[0];
  console.log(
    `→ ${created.status} ${created.status === 202 ? 'Accepted' : 'OK (the link exists)'}: ${summary.id} is ${summary.status}`,
  );
  let link = (await api('GET', `/links/${summary.id}`)).body;
  while (UNFINISHED.onboard.has(link.status)) {
    await new Promise((r) => setTimeout(r, 50));
    link = (await api('GET', `/links/${summary.id}`)).body;
  }
  const mutating = rt.sandbox.callCounts({ mutating: true });
  const reads = rt.sandbox.callCounts({ mutating: false });
  console.log(
    `\nLink ${link.id}: ${link.status} in ${Date.now() - started} ms (${mutating} mutating and ${reads} read-only AWS calls)`,
  );
  if (link.status !== 'ACTIVE') {
    console.log(`Error: ${JSON.stringify(link.error)}`);
  } else {
    const o = link.outputs;
    console.log('\nWhat the link holds:');
    console.log(`  source 111111111111  OIDC provider   ${o.oidcProviderArn}`);
    console.log(`  source 111111111111  workload role   ${o.workloadRoleArn}`);
    console.log(`  target 222222222222  target role     ${o.targetRoleArn}`);
    console.log(
      `  target 222222222222  access entry    ${o.access.accessEntryArn ?? o.access.rolearn} → ${o.access.policyArn ?? o.access.groups} (${o.access.scope?.type ?? ''} scope)`,
    );
    console.log(
      `  target 222222222222  ${o.egress.securityGroupId} tcp/443 from ${o.egress.cidrs.join(', ')}`,
    );
    console.log(
      `\nAnnotate the service account:\n  kubectl annotate serviceaccount ${DEMO_REQUEST.source.serviceAccount} -n ${DEMO_REQUEST.source.namespace} eks.amazonaws.com/role-arn=${o.workloadRoleArn}`,
    );
    const kubeconfig = await api('GET', `/links/${link.id}/kubeconfig`);
    console.log(`\nGET ${rt.url}/links/${link.id}/kubeconfig\n${kubeconfig.body}`);
  }
}

if (values.once) {
  await rt.close();
  process.exit(0);
}
console.log(`Serving on ${rt.url} — try: curl ${rt.url}/links   (Ctrl-C to stop)`);
const stop = async () => {
  await rt.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
