/**
 * `npm start`: the control plane on this machine, on embedded defaults. It starts the local
 * runtime, onboards the demo link of the cross-account IRSA runbook through the HTTP API, shows each step as it
 * completes, prints the link, what was made and the kubeconfig, and keeps serving.
 *
 * Options: see {@link USAGE} (`npm start -- --help`). A usage error is one line and exit 2;
 * a start that cannot go on (a damaged or locked data directory, a taken port) is one
 * message and exit 1, never a stack trace.
 */
import './polyfills';
import { parseArgs } from 'node:util';
import { IN_PROGRESS, UNFINISHED } from '#link/lifecycle';
import { DEMO_REQUEST } from './demo';

const USAGE = `Usage: npm start -- [options]   (or: npx tsx local/main.ts [options])

Runs the Tether control plane on this machine: the API, the workflows, DynamoDB and a
sandbox of AWS accounts, all kept in one data directory. It then onboards the demo link
through the API and keeps serving.

Options:
  --data-dir DIR  where the table, the sandbox and the run history live
                  (default .tether, or $TETHER_DATA_DIR); rm -rf it to start over
  --port N        the API's port on 127.0.0.1 (default 8787, or $TETHER_PORT);
                  0 takes any free port
  --no-demo       only serve; do not onboard the demo link
  --no-doors      do not serve the sandbox over HTTP (the AWS door and the
                  clusters' Kubernetes APIs), so no proof with kubectl either
  --once          exit after the demo instead of serving
  -h, --help      print this help and exit
`;

/** parseArgs's error as one line: `tether: unknown option --foo (see --help)`. */
function usageError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = String(e.message ?? err);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `tether: unknown option ${quoted} (see --help)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `tether: unexpected argument ${quoted} (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = quoted.split(' ')[0] ?? quoted;
      return /does not take/.test(message)
        ? `tether: ${option} takes no value (see --help)`
        : `tether: ${option} needs a value (see --help)`;
    }
    default:
      return `tether: ${message.split('\n')[0]} (see --help)`;
  }
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        'data-dir': { type: 'string', default: process.env.TETHER_DATA_DIR ?? '.tether' },
        port: { type: 'string', default: process.env.TETHER_PORT ?? '8787' },
        'no-demo': { type: 'boolean', default: false },
        'no-doors': { type: 'boolean', default: false },
        once: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(usageError(err));
    process.exit(2);
  }
})();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const port = Number(values.port);
if (values.port.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`tether: --port must be a port number from 0 to 65535, not "${values.port}" (see --help)`);
  process.exit(2);
}
if (values['data-dir'].trim() === '') {
  console.error('tether: --data-dir needs a directory (see --help)');
  process.exit(2);
}

// Loaded after the options are read, so --help and a usage error answer at once.
const { DataDirectoryError, startLocalRuntime } = await import('./runtime');
const { printProof } = await import('./proof');
const started = Date.now();
const rt = await startLocalRuntime({
  dataDir: values['data-dir'],
  port,
  doors: !values['no-doors'],
  // The drift sweep every TETHER_SWEEP_MINUTES minutes (in AWS: hourly); off unless set. `npm run sweep` sweeps now.
  ...(Number(process.env.TETHER_SWEEP_MINUTES) > 0
    ? { sweepIntervalMs: Number(process.env.TETHER_SWEEP_MINUTES) * 60_000 }
    : {}),
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
  } else if (err instanceof DataDirectoryError || err.name === 'PolicyFileError') {
    // A data folder in use or damaged, or a policy file that does not validate (its file, line
    // and column): the message says what to do, and nothing started.
    console.error(err.message);
  } else {
    // Unexpected: one line; the stack only when asked for.
    console.error(
      `tether: could not start on ${values['data-dir']}: ${err.message ?? err}` +
        (process.env.TETHER_DEBUG ? `\n${err.stack}` : ' (set TETHER_DEBUG=1 for the stack trace)'),
    );
  }
  process.exit(1);
});

for (const notice of rt.notices) console.error(notice);
console.log(`Tether local control plane on ${rt.url}  (data: ${values['data-dir']})`);
if (rt.doors) {
  console.log(`AWS door (STS, IAM, EKS, OIDC issuers) on ${rt.doors.aws.url}  (AWS_ENDPOINT_URL)`);
  for (const [cluster, endpoint] of rt.doors.kube.endpoints)
    console.log(`Kubernetes API of ${cluster} on ${endpoint}`);
}
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
    // Where the allowance takes effect (docs/architecture.md): publicAccessCidrs or the group.
    const egress = o.egress.securityGroupId
      ? `${o.egress.securityGroupId} tcp/443 from ${o.egress.cidrs.join(', ')}`
      : (o.egress.note ?? o.egress.cidrs.join(', '));
    console.log(`  target 222222222222  egress          ${egress}`);
    console.log(
      `\nAnnotate the service account:\n  kubectl annotate serviceaccount ${DEMO_REQUEST.source.serviceAccount} -n ${DEMO_REQUEST.source.namespace} eks.amazonaws.com/role-arn=${o.workloadRoleArn}`,
    );
    let kubeconfig = await api('GET', `/links/${link.id}/kubeconfig`);
    const served = rt.doors?.kube.endpoints.get(
      `${link.spec.target.accountId}/${link.spec.target.region}/${link.spec.target.cluster}`,
    );
    if (served && !String(kubeconfig.body).includes(`server: ${served}`)) {
      // A previous start served the cluster on another port: the reconcile renders the kubeconfig again.
      console.log(
        `\nThe cluster's API moved to ${served}: reconciling the link to render its kubeconfig again`,
      );
      await api('POST', `/links/${link.id}/reconcile`);
      let again = (await api('GET', `/links/${link.id}`)).body;
      while (IN_PROGRESS.has(again.status)) {
        await new Promise((r) => setTimeout(r, 50));
        again = (await api('GET', `/links/${link.id}`)).body;
      }
      kubeconfig = await api('GET', `/links/${link.id}/kubeconfig`);
    }
    console.log(`\nGET ${rt.url}/links/${link.id}/kubeconfig\n${kubeconfig.body}`);
    if (rt.doors) {
      const proof = await rt.proveLink(link.id);
      printProof(proof, link, rt.doors.aws.url, values['data-dir']);
    }
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
