/** The options that describe an onboarding request, shared by `link create` and `plan`. */
import { type Command, Option } from 'commander';
import { collect } from '../context';
import type { RequestFlags } from '../request';

export function addRequestOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'the request as YAML or JSON (the body of POST /links; - for stdin)')
    .option('--source <a/r/c/ns/sa>', 'the workload: ACCOUNT/REGION/CLUSTER/NAMESPACE/SERVICEACCOUNT')
    .option('--target <a/r/c>', 'a target cluster: ACCOUNT/REGION/CLUSTER (repeat for several)', collect)
    .option('--policy <name|arn>', 'EKS access policy, e.g. AmazonEKSViewPolicy (or its ARN)')
    .option('--scope <scope>', 'scope of --policy: cluster (default) or namespace:NS[,NS…]')
    .option('--group <group>', 'Kubernetes group instead of a policy (repeat for several)', collect)
    .option('--username <name>', 'Kubernetes username of the access entry')
    .addOption(
      new Option('--network <mode>', 'where the target lets the source in from (default nat)').choices([
        'nat',
        'cidrs',
        'none',
      ]),
    )
    .option('--cidr <cidr>', 'an IPv4 CIDR to let in (implies --network cidrs; repeat for several)', collect)
    .option('--identity <mode>', 'identity mode (default irsa)')
    .option(
      '--ca-certificate <file>',
      "mode roles-anywhere: the source cluster's CA certificate (PEM); without it Tether reuses the cluster's or makes one",
    );
}

export function requestFlagsOf(opts: Record<string, any>): RequestFlags {
  return {
    ...(opts.file !== undefined ? { file: opts.file } : {}),
    ...(opts.source !== undefined ? { source: opts.source } : {}),
    ...(opts.target !== undefined ? { target: opts.target } : {}),
    ...(opts.policy !== undefined ? { policy: opts.policy } : {}),
    ...(opts.scope !== undefined ? { scope: opts.scope } : {}),
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.network !== undefined ? { network: opts.network } : {}),
    ...(opts.cidr !== undefined ? { cidr: opts.cidr } : {}),
    ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
    ...(opts.caCertificate !== undefined ? { caCertificate: opts.caCertificate } : {}),
  };
}
