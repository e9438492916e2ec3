/**
 * `tether cluster`: self-managed clusters (k3s, on-premises) whose OIDC discovery Tether
 * publishes (`PUT`, `GET`, `DELETE /clusters/{accountId}/{region}/{name}`;
 * docs/architecture.md#oidc-publishing-for-self-managed-clusters).
 */
import { type Command, Command as CommandClass, InvalidArgumentError } from 'commander';
import { contextOf, outputOption } from '../context';
import { formatData, fields, type Io, type OutputFormat, writeLine } from '../output';
import { requestFromFile } from '../request';

/** `ACCOUNT/REGION/NAME` → the API path. */
export function clusterPath(ref: string): string {
  const m = /^(\d{12})\/([a-z0-9-]{1,30})\/([0-9A-Za-z][A-Za-z0-9_-]{0,99})$/.exec(ref);
  if (!m) throw new InvalidArgumentError('expected ACCOUNT/REGION/NAME, e.g. 111111111111/eu-west-1/k3s-lab');
  return `/clusters/${m[1]}/${m[2]}/${m[3]}`;
}

function print(io: Io, format: OutputFormat, data: unknown, human: () => string): void {
  if (format === 'table') writeLine(io.out, human());
  else io.out.write(formatData(format, data));
}

function details(body: any): string {
  return fields([
    ['Cluster', `${body.accountId}/${body.region}/${body.cluster} (${body.kind})`],
    ['Issuer', body.issuer],
    ['JWKS', body.jwksUri],
    ['Keys', (body.keys as { kid?: string }[]).map((k) => k.kid).join(', ')],
    ['Links', String(body.links)],
    ...(body.published
      ? ([
          ['Published', `${body.published.action}: ${body.published.kids.join(', ')}`],
          ['Retired', body.published.retiredKids.join(', ') || undefined],
        ] as [string, string | undefined][])
      : []),
  ]);
}

export function clusterCommand(io: Io): Command {
  const cluster = new CommandClass('cluster').description(
    'self-managed clusters (k3s, on-premises) whose OIDC discovery Tether publishes',
  );

  cluster
    .command('register')
    .description(
      "register a self-managed cluster with its JWKS, or rotate its keys (PUT /clusters/…); the answer's issuer is the cluster's --service-account-issuer",
    )
    .argument('<account/region/name>', 'the cluster', clusterPath)
    .requiredOption(
      '--jwks <path>',
      "the cluster's public keys: kubectl get --raw /openid/v1/jwks > jwks.json (- for stdin)",
    )
    .option(
      '--openid-configuration <path>',
      "the cluster's discovery document, checked against the served one",
    )
    .addOption(outputOption())
    .action(async (path: string, opts, self: Command) => {
      const ctx = contextOf(io, self);
      const jwks = await requestFromFile(opts.jwks, io.stdin);
      const openidConfiguration = opts.openidConfiguration
        ? await requestFromFile(opts.openidConfiguration, io.stdin)
        : undefined;
      const body = (
        await ctx.client().send('PUT', path, {
          body: { kind: 'self-managed', jwks, ...(openidConfiguration ? { openidConfiguration } : {}) },
        })
      ).body;
      print(io, opts.output, body, () => details(body));
    });

  cluster
    .command('get')
    .description('show a registered self-managed cluster (GET /clusters/…)')
    .argument('<account/region/name>', 'the cluster', clusterPath)
    .addOption(outputOption())
    .action(async (path: string, opts, self: Command) => {
      const body = (await contextOf(io, self).client().get(path)).body;
      print(io, opts.output, body, () => details(body));
    });

  cluster
    .command('delete')
    .alias('rm')
    .description('forget a self-managed cluster no link uses (DELETE /clusters/…)')
    .argument('<account/region/name>', 'the cluster', clusterPath)
    .action(async (path: string, _opts, self: Command) => {
      await contextOf(io, self).client().send('DELETE', path);
      writeLine(io.out, `Cluster ${path.replace('/clusters/', '')} is forgotten.`);
    });
  return cluster;
}
