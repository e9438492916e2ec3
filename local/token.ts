/**
 * `npm run token`: mints the projected service-account token the kubelet would mount in a
 * pod of a sandbox cluster (local/sandbox/oidc-issuers.ts), signed by that cluster's OIDC
 * issuer key from the data directory. It only reads the data directory, so it works while
 * `npm start` runs; the issuer keys are made by `npm start`.
 *
 * @example
 * npm run -s token -- --cluster cluster-a --namespace kubeai-chatbot --service-account kubeai-chatbot > token
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DATA_DIRECTORY_LAYOUT } from './data-dir-lock';
import { DEMO_REQUEST } from './demo';
import { DEFAULT_TOKEN_SECONDS, IRSA_AUDIENCE, mintServiceAccountToken } from './sandbox/oidc-issuers';
import { loadState } from './sandbox/state';

const USAGE = `Usage: npm run -s token -- [options]

Prints a projected service-account token (a JWT) for a namespace and service account of a
sandbox EKS cluster, signed by the cluster's OIDC issuer, as the kubelet mounts it at
/var/run/secrets/eks.amazonaws.com/serviceaccount/token for IRSA.

Options:
  --cluster NAME           the cluster (default ${DEMO_REQUEST.source.cluster})
  --account ID, --region R where the cluster is, when its name is not unique
  --namespace NS           (default ${DEMO_REQUEST.source.namespace})
  --service-account SA     (default ${DEMO_REQUEST.source.serviceAccount})
  --audience AUD           (default ${IRSA_AUDIENCE})
  --expires-in SECONDS     (default ${DEFAULT_TOKEN_SECONDS})
  --out FILE               write the token to FILE instead of stdout
  --data-dir DIR           (default .tether, or $TETHER_DATA_DIR)
  -h, --help
`;

function fail(message: string, code = 1): never {
  console.error(`tether token: ${message}`);
  process.exit(code);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        cluster: { type: 'string', default: DEMO_REQUEST.source.cluster },
        account: { type: 'string' },
        region: { type: 'string' },
        namespace: { type: 'string', default: DEMO_REQUEST.source.namespace },
        'service-account': { type: 'string', default: DEMO_REQUEST.source.serviceAccount },
        audience: { type: 'string', default: IRSA_AUDIENCE },
        'expires-in': { type: 'string', default: String(DEFAULT_TOKEN_SECONDS) },
        out: { type: 'string' },
        'data-dir': { type: 'string', default: process.env.TETHER_DATA_DIR ?? '.tether' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message.split('\n')[0]} (see --help)`, 2);
  }
})();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const expiresIn = Number(values['expires-in']);
if (!Number.isInteger(expiresIn) || expiresIn < 1) fail('--expires-in takes a number of seconds', 2);

const state = loadState(join(values['data-dir'], DATA_DIRECTORY_LAYOUT.sandbox));
if (!state) fail(`no sandbox in ${values['data-dir']}: run npm start first`);
const found = Object.entries(state.accounts).flatMap(([accountId, account]) =>
  Object.entries(account.regions).flatMap(([region, r]) => {
    const c = r.eks.clusters[values.cluster];
    return c &&
      (!values.account || values.account === accountId) &&
      (!values.region || values.region === region)
      ? [{ accountId, region, cluster: c }]
      : [];
  }),
);
if (found.length === 0) fail(`no cluster ${values.cluster} in the sandbox`);
if (found.length > 1)
  fail(
    `${found.length} clusters are named ${values.cluster}: pass --account and --region (${found.map((f) => `${f.accountId}/${f.region}`).join(', ')})`,
  );
const issuer = found[0]?.cluster.oidcIssuer;
if (!issuer) fail(`${values.cluster} has no OIDC issuer`);
const key = state.issuerKeys?.[issuer];
if (!key) fail(`the issuer of ${values.cluster} has no signing key yet: run npm start once (it makes them)`);
const token = await mintServiceAccountToken(key, {
  issuer,
  namespace: values.namespace,
  serviceAccount: values['service-account'],
  audience: values.audience,
  expiresInSeconds: expiresIn,
});
if (values.out) writeFileSync(values.out, token, { mode: 0o600 });
else process.stdout.write(`${token}\n`);
