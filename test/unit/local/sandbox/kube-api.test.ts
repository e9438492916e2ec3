/**
 * A sandbox cluster's Kubernetes API, without the network: the aws-iam-authenticator
 * token checks and the access policies' documented permissions within their scope.
 */
import { describe, expect, it } from 'vitest';
import { reviewToken, TOKEN_PREFIX, type StsCall } from '#local/sandbox/kube-api/authenticate';
import { authorize, forbiddenMessage, type RequestAttributes } from '#local/sandbox/kube-api/authorize';
import type { AssociationState } from '#local/sandbox/state';

const policy = (
  name: string,
  scope: AssociationState['accessScope'] = { type: 'cluster' },
): AssociationState => ({
  policyArn: `arn:aws:eks::aws:cluster-access-policy/${name}`,
  accessScope: scope,
  associatedAt: '2024-01-01T00:00:00Z',
  modifiedAt: '2024-01-01T00:00:00Z',
});
const req = (
  verb: string,
  resource: string,
  namespace = '',
  group = '',
  name?: string,
): RequestAttributes => ({
  verb,
  group,
  resource,
  namespace,
  ...(name ? { name } : {}),
});
const allowed = (assocs: AssociationState[], a: RequestAttributes) => authorize(assocs, a).allowed;

describe('authorize', () => {
  it('AmazonEKSViewPolicy reads most things but not Secrets, and never writes', () => {
    const view = [policy('AmazonEKSViewPolicy')];
    expect(allowed(view, req('list', 'namespaces'))).toBe(true);
    expect(allowed(view, req('list', 'pods', 'team-a'))).toBe(true);
    expect(allowed(view, req('get', 'deployments', 'team-a', 'apps', 'web'))).toBe(true);
    expect(allowed(view, req('list', 'secrets', 'team-a'))).toBe(false);
    expect(allowed(view, req('list', 'rolebindings', 'team-a', 'rbac.authorization.k8s.io'))).toBe(false);
    expect(allowed(view, req('create', 'deployments', 'team-a', 'apps'))).toBe(false);
    expect(allowed(view, req('list', 'nodes'))).toBe(false);
    // A cluster scope covers lists across all namespaces (kubectl get pods -A).
    expect(allowed(view, req('list', 'pods'))).toBe(true);
    expect(allowed(view, req('list', 'secrets'))).toBe(false);
  });

  it('Edit writes namespaced resources and Secrets, not RBAC; Admin also RBAC; ClusterAdmin everything', () => {
    const edit = [policy('AmazonEKSEditPolicy')];
    expect(allowed(edit, req('create', 'deployments', 'team-a', 'apps'))).toBe(true);
    expect(allowed(edit, req('get', 'secrets', 'team-a', '', 'db'))).toBe(true);
    expect(allowed(edit, req('create', 'roles', 'team-a', 'rbac.authorization.k8s.io'))).toBe(false);
    expect(allowed(edit, req('delete', 'namespaces', '', '', 'team-a'))).toBe(false);
    const admin = [policy('AmazonEKSAdminPolicy')];
    expect(allowed(admin, req('create', 'rolebindings', 'team-a', 'rbac.authorization.k8s.io'))).toBe(true);
    expect(allowed(admin, req('create', 'clusterroles', '', 'rbac.authorization.k8s.io'))).toBe(false);
    const clusterAdmin = [policy('AmazonEKSClusterAdminPolicy')];
    expect(allowed(clusterAdmin, req('delete', 'nodes', '', '', 'n1'))).toBe(true);
    expect(
      allowed(clusterAdmin, { verb: 'get', group: '', resource: '', namespace: '', path: '/metrics' }),
    ).toBe(true);
  });

  it('AdminView reads Secrets too; SecretReader reads only Secrets', () => {
    expect(allowed([policy('AmazonEKSAdminViewPolicy')], req('list', 'secrets', 'team-a'))).toBe(true);
    expect(allowed([policy('AmazonEKSAdminViewPolicy')], req('create', 'pods', 'team-a'))).toBe(false);
    expect(allowed([policy('AmazonEKSSecretReaderPolicy')], req('get', 'secrets', 'team-a', '', 'x'))).toBe(
      true,
    );
    expect(allowed([policy('AmazonEKSSecretReaderPolicy')], req('list', 'pods', 'team-a'))).toBe(false);
  });

  it('a namespace scope covers its namespaces only: not other namespaces nor cluster-scoped requests', () => {
    const scoped = [policy('AmazonEKSViewPolicy', { type: 'namespace', namespaces: ['team-a'] })];
    expect(allowed(scoped, req('list', 'pods', 'team-a'))).toBe(true);
    expect(allowed(scoped, req('get', 'namespaces', '', '', 'team-a'))).toBe(true);
    expect(allowed(scoped, req('list', 'pods', 'team-b'))).toBe(false);
    expect(allowed(scoped, req('list', 'pods', ''))).toBe(false);
    expect(allowed(scoped, req('list', 'namespaces'))).toBe(false);
    expect(allowed(scoped, req('get', 'namespaces', '', '', 'team-b'))).toBe(false);
  });

  it('lets every authenticated user ask who they are, what they may do, and read discovery', () => {
    expect(allowed([], req('create', 'selfsubjectaccessreviews', '', 'authorization.k8s.io'))).toBe(true);
    expect(allowed([], req('create', 'selfsubjectreviews', '', 'authentication.k8s.io'))).toBe(true);
    expect(allowed([], { verb: 'get', group: '', resource: '', namespace: '', path: '/apis/apps/v1' })).toBe(
      true,
    );
    expect(allowed([], req('list', 'pods', 'team-a'))).toBe(false);
  });

  it('words a refusal as the API server does', () => {
    expect(forbiddenMessage('u', req('list', 'secrets', 'default'))).toBe(
      'secrets is forbidden: User "u" cannot list resource "secrets" in API group "" in the namespace "default"',
    );
    expect(forbiddenMessage('u', req('list', 'namespaces'))).toBe(
      'namespaces is forbidden: User "u" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
  });
});

describe('reviewToken (aws-iam-authenticator)', () => {
  const STS = '127.0.0.1:4566';
  const amzDate = (d: Date) =>
    d
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  const url = (overrides: Record<string, string> = {}, host = STS, path = '/') => {
    const q = new URLSearchParams({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIA/20240101/us-east-1/sts/aws4_request',
      'X-Amz-Date': amzDate(new Date()),
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
      'X-Amz-Signature': 'ab',
      ...overrides,
    });
    return `http://${host}${path}?${q}`;
  };
  const token = (u: string) => `${TOKEN_PREFIX}${Buffer.from(u).toString('base64url')}`;
  const identity = JSON.stringify({
    GetCallerIdentityResponse: {
      GetCallerIdentityResult: {
        Account: '222222222222',
        Arn: 'arn:aws:sts::222222222222:assumed-role/r/s',
        UserId: 'AROAX:s',
      },
    },
  });
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const sts: StsCall = async (u, headers) => {
    calls.push({ url: u, headers });
    return { status: 200, body: identity };
  };
  const review = (t: string, callSts: StsCall = sts) =>
    reviewToken(t, { clusterId: 'cluster-b', stsHosts: [STS], callSts });

  it('calls STS with the cluster id header and returns who it vouches for', async () => {
    await expect(review(token(url()))).resolves.toEqual({
      account: '222222222222',
      arn: 'arn:aws:sts::222222222222:assumed-role/r/s',
      userId: 'AROAX:s',
    });
    expect(calls.at(-1)?.headers).toEqual({ 'x-k8s-aws-id': 'cluster-b', accept: 'application/json' });
  });

  it.each([
    ['a token without the prefix', 'k8s-aws-v2.abc', 'missing expected "k8s-aws-v1." prefix'],
    ['another host', token(url({}, 'sts.evil.example')), 'unexpected hostname "sts.evil.example"'],
    ['another path', token(url({}, STS, '/x')), 'unexpected path'],
    ['another action', token(url({ Action: 'AssumeRole' })), 'unexpected action parameter'],
    ['an unexpected parameter', token(url({ RoleArn: 'x' })), 'non-whitelisted query parameter "RoleArn"'],
    [
      'an unsigned x-k8s-aws-id',
      token(url({ 'X-Amz-SignedHeaders': 'host' })),
      'did not sign the x-k8s-aws-id header',
    ],
    [
      'a URL signed over 15 minutes ago',
      token(url({ 'X-Amz-Date': amzDate(new Date(Date.now() - 16 * 60_000)) })),
      'X-Amz-Date parameter is expired (15 minute expiration)',
    ],
  ])('refuses %s', async (_what, t, reason) => {
    const before = calls.length;
    await expect(review(t)).rejects.toThrow(reason);
    expect(calls.length).toBe(before);
  });

  it('refuses what STS refuses', async () => {
    await expect(
      review(token(url()), async () => ({ status: 403, body: 'SignatureDoesNotMatch' })),
    ).rejects.toThrow('sts getCallerIdentity failed: error from AWS (expected 200, got 403)');
  });
});
