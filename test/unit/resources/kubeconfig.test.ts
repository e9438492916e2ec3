/**
 * The kubeconfig of a link (`#resources/kubeconfig`): an exec-credential kubeconfig for the
 * target cluster whose token comes through the role chain (IRSA web identity → workload
 * role → `aws eks get-token --role-arn <target role>`). Pure: it takes no AWS client.
 */
import { targetRoleArnOf } from '#resources/workload-role';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Link, LinkSpec } from '#link/model';
import { roleArn, targetRoleName, workloadRoleName } from '#link/names';
import { IRSA_TOKEN_FILE, kubeconfigStep, renderKubeconfig } from '#resources/kubeconfig';
import type { Resolved } from '#resources/resolve';
import { linkOf, newSpec, OTHER_TARGET_ACCOUNT } from './support';

const RESOLVED: Resolved = {
  source: {
    clusterArn: 'arn:aws:eks:ap-southeast-1:111111111111:cluster/cluster-a',
    issuer: 'https://oidc.eks.ap-southeast-1.amazonaws.com/id/ABC',
    vpcId: 'vpc-a',
    natIps: ['18.0.35.117'],
  },
  target: {
    clusterArn: 'arn:aws:eks:ap-southeast-1:222222222222:cluster/cluster-b',
    endpoint: 'https://B.gr7.ap-southeast-1.eks.amazonaws.com',
    certificateAuthority: 'LS0tLS1CRUdJTi1DQQ==',
    authenticationMode: 'API_AND_CONFIG_MAP',
    clusterSecurityGroupId: 'sg-b',
    vpcId: 'vpc-b',
    endpointPublicAccess: true,
    endpointPrivateAccess: true,
    publicAccessCidrs: ['0.0.0.0/0'],
  },
};

const resolvedLinkOf = (spec: LinkSpec): Link => linkOf(spec, { resolved: RESOLVED });
const parsedConfig = (link: Link) => YAML.parse(renderKubeconfig(link));

describe('renderKubeconfig', () => {
  it('names one cluster, one user and one context after the target, and makes it current', () => {
    // Arrange
    const link = resolvedLinkOf(newSpec());

    // Act
    const config = parsedConfig(link);

    // Assert
    const name = RESOLVED.target.clusterArn;
    // Named by the cluster ARN, as `aws eks update-kubeconfig` names them; the user by the target role.
    expect(config).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': name });
    expect(config.clusters).toEqual([
      {
        name,
        cluster: {
          server: RESOLVED.target.endpoint,
          'certificate-authority-data': RESOLVED.target.certificateAuthority,
        },
      },
    ]);
    const user = targetRoleArnOf(link);
    expect(config.contexts).toEqual([{ name, context: { cluster: name, user } }]);
    expect(config.users.map((u: { name: string }) => u.name)).toEqual([user]);
  });

  it('gets its token as the target role, with the workload role as the web-identity role', () => {
    // Arrange
    const spec = newSpec();
    const link = resolvedLinkOf(spec);

    // Act
    const exec = parsedConfig(link).users[0].user.exec;

    // Assert
    expect(exec).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: 'aws',
      args: [
        '--region',
        'ap-southeast-1',
        'eks',
        'get-token',
        '--cluster-name',
        'cluster-b',
        '--role-arn',
        roleArn('222222222222', targetRoleName(spec)),
        '--output',
        'json',
      ],
      env: [
        { name: 'AWS_ROLE_ARN', value: roleArn('111111111111', workloadRoleName(spec.source)) },
        { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: IRSA_TOKEN_FILE },
      ],
      interactiveMode: 'Never',
      provideClusterInfo: false,
    });
    expect(IRSA_TOKEN_FILE).toBe('/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
  });

  it('in mode pod-identity, signs in as the target role with the pod’s default credentials: no --role-arn, no web identity', () => {
    // Arrange: EKS Pod Identity makes the chain; the agent hands out the target role's credentials.
    const spec = newSpec({ identity: { mode: 'pod-identity' } });
    const link = resolvedLinkOf(spec);

    // Act
    const config = parsedConfig(link);

    // Assert
    expect(config.users).toEqual([
      {
        name: roleArn('222222222222', targetRoleName(spec)),
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: 'aws',
            args: [
              '--region',
              'ap-southeast-1',
              'eks',
              'get-token',
              '--cluster-name',
              'cluster-b',
              '--output',
              'json',
            ],
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ]);
  });

  it('gives two links of one workload the same web-identity role and each its own target role', () => {
    // Arrange
    const toB = newSpec();
    const toD = {
      ...toB,
      target: { accountId: OTHER_TARGET_ACCOUNT, region: 'eu-west-1', cluster: 'cluster-d' },
    };

    // Act
    const [execB, execD] = [toB, toD].map((s) => parsedConfig(resolvedLinkOf(s)).users[0].user.exec);

    // Assert
    expect(execB.env).toEqual(execD.env);
    expect(execB.args[execB.args.indexOf('--role-arn') + 1]).not.toBe(
      execD.args[execD.args.indexOf('--role-arn') + 1],
    );
    expect(execD.args.slice(0, 2)).toEqual(['--region', 'eu-west-1']);
  });

  it('renders the same text for the same link', () => {
    // Arrange
    const link = resolvedLinkOf(newSpec());

    // Act
    const [first, second] = [renderKubeconfig(link), renderKubeconfig(structuredClone(link))];

    // Assert
    expect(second).toBe(first);
  });

  it('refuses a link that was never resolved', () => {
    // Act
    const rendering = () => renderKubeconfig(linkOf(newSpec()));

    // Assert
    expect(rendering).toThrow('the resolve step must run first');
  });
});

describe('kubeconfigStep', () => {
  it('outputs the kubeconfig and records its context and size', async () => {
    // Arrange
    const link = resolvedLinkOf(newSpec());

    // Act
    const out = await kubeconfigStep(link);

    // Assert
    const kubeconfig = renderKubeconfig(link);
    expect(out).toEqual({
      result: {
        context: RESOLVED.target.clusterArn,
        user: targetRoleArnOf(link),
        bytes: Buffer.byteLength(kubeconfig),
      },
      outputs: { kubeconfig },
    });
  });
});
