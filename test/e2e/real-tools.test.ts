/**
 * The proof with the real tools (issue 16): the demo link onboarded through the HTTP API,
 * the workload's projected service-account token minted by its cluster's issuer, and the
 * real `kubectl` run with the kubeconfig exactly as Tether served it — its exec plugin the
 * real AWS CLI, against the sandbox's HTTP door (`AWS_ENDPOINT_URL`) and the target
 * cluster's TLS Kubernetes API. Each negative proof breaks one hop and checks that the chain
 * fails there, with the error the real tools print.
 *
 * Skipped, with a message naming what to install, only when `kubectl` or `aws` is missing.
 */
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { DeleteAccessEntryCommand } from '@aws-sdk/client-eks';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link } from '#link/model';
import { roleArn, TARGET_POLICY_NAME, targetRoleName } from '#link/names';
import { missingTools, runKubectl } from '#local/real-tools';
import { mintServiceAccountToken } from '#local/sandbox/oidc-issuers';
import { demoRequest, type Harness, startHarness } from './harness';
import { byHand } from './probe';

const missing = missingTools();
if (missing.length > 0)
  console.warn(
    `test/e2e/real-tools.test.ts skipped: ${missing.join(' and ')} not on the PATH. Install kubectl (https://kubernetes.io/docs/tasks/tools/) and the AWS CLI (https://aws.amazon.com/cli/) to run the proof with the real tools.`,
  );

const SOURCE = '111111111111';
const TARGET = '222222222222';
const REGION = 'ap-southeast-1';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

let h: Harness;
/** How far the doors' clock runs ahead of the real one. */
let skewMs = 0;
let link: Link;
let kubeconfig: string;
let issuerA: string;
let issuerD: string;

function issuerOf(accountId: string, region: string, cluster: string): string {
  const c = h.rt.sandbox.state().accounts[accountId]?.regions[region]?.eks.clusters[cluster];
  if (!c?.oidcIssuer) throw new Error(`no issuer for ${cluster}`);
  return c.oidcIssuer;
}

/** The workload's token, as the kubelet would mount it. */
const tokenFor = (serviceAccount = 'kubeai-chatbot', options: { issuer?: string; now?: Date } = {}) =>
  h.rt.sandbox.mintServiceAccountToken({
    issuer: options.issuer ?? issuerA,
    namespace: 'kubeai-chatbot',
    serviceAccount,
    ...(options.now ? { now: options.now } : {}),
  });

const kubectl = async (args: string[], token?: string, config = kubeconfig) =>
  runKubectl({
    kubeconfig: config,
    token: token ?? (await tokenFor()),
    awsEndpoint: h.rt.doors!.aws.url,
    args,
  });

/**
 * The HTTP door's calls since `from` (a call-log position), as `operation:errorCode|ok`,
 * each once (kubectl asks for credentials again when discovery fails, so a refused chain
 * is tried several times).
 */
const doorCalls = (from: number) => [
  ...new Set(
    h.rt.sandbox
      .calls()
      .slice(from)
      .filter((c) => c.door === 'http')
      .map((c) => `${c.operation}:${c.ok ? 'ok' : c.errorCode}`),
  ),
];

async function onboard(body: Record<string, unknown>): Promise<{ link: Link; kubeconfig: string }> {
  const res = await h.api('POST', '/links', body);
  expect(res.status).toBe(202);
  const settled = await h.settle(res.body.links[0].id);
  expect(settled.status).toBe('ACTIVE');
  const config = await h.api('GET', `/links/${settled.id}/kubeconfig`);
  expect(config.status).toBe(200);
  return { link: await h.rt.links.get(settled.id), kubeconfig: config.text };
}

async function reconcile(id: string): Promise<void> {
  const res = await h.api('POST', `/links/${id}/reconcile`);
  expect(res.status).toBeLessThan(300);
  expect((await h.settle(id)).status).toBe('ACTIVE');
}

// Every kubectl run starts the AWS CLI (about 1 s of Python each, more on a loaded machine),
// and kubectl's discovery tries a refused chain again: generous timeouts.
describe.skipIf(missing.length > 0)(
  'kubectl with the kubeconfig Tether rendered, through the real chain',
  { timeout: 180_000 },
  () => {
    beforeAll(async () => {
      h = await startHarness({ doors: true, doorClock: () => new Date(Date.now() + skewMs) });
      ({ link, kubeconfig } = await onboard(demoRequest()));
      issuerA = issuerOf(SOURCE, REGION, 'cluster-a');
      issuerD = issuerOf('333333333333', 'eu-west-1', 'cluster-d');
    }, 180_000);
    afterAll(async () => {
      await h?.close();
    });

    it('serves the kubeconfig pointing at the cluster API the sandbox runs, with its CA', () => {
      const endpoint = h.rt.doors!.kube.endpoints.get(`${TARGET}/${REGION}/cluster-b`);
      expect(endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(kubeconfig).toContain(`server: ${endpoint}`);
      const ca = h.rt.sandbox.state().accounts[TARGET]?.regions[REGION]?.eks.clusters['cluster-b']?.kubeApiCa;
      expect(kubeconfig).toContain(Buffer.from(ca!.certPem).toString('base64'));
    });

    it('lists namespaces under AmazonEKSViewPolicy at cluster scope, through every hop', async () => {
      const from = h.rt.sandbox.calls().length;
      const r = await kubectl(['get', 'namespaces']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^NAME\s+STATUS\s+AGE/);
      for (const ns of ['default', 'kube-system', 'team-a', 'team-b']) expect(r.stdout).toContain(ns);
      // The web identity, the target role and the token's GetCallerIdentity, all over HTTP.
      const calls = doorCalls(from);
      expect(calls).toEqual(['AssumeRoleWithWebIdentity:ok', 'AssumeRole:ok', 'GetCallerIdentity:ok']);
      if (!r.tokenAtKubeletPath)
        console.warn('no private mount namespace here: the token file path was rewritten');
    });

    it('reads pods, and says who it is and what it may do', async () => {
      const pods = await kubectl(['get', 'pods', '-n', 'team-a']);
      expect(pods.code).toBe(0);
      expect(pods.stdout).toMatch(/web-[0-9a-f]{5}\s+1\/1\s+Running/);
      const whoami = await kubectl(['auth', 'whoami', '-o', 'json']);
      expect(whoami.code).toBe(0);
      const review = JSON.parse(whoami.stdout) as {
        status: { userInfo: { username: string; extra: Record<string, string[]> } };
      };
      expect(review.status.userInfo.extra.canonicalArn).toEqual([
        `arn:aws:iam::${TARGET}:role/${targetRoleName(link.spec)}`,
      ]);
      const canListPods = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', 'team-b']);
      expect([canListPods.code, canListPods.stdout.trim()]).toEqual([0, 'yes']);
      const canReadSecrets = await kubectl(['auth', 'can-i', 'get', 'secrets', '-n', 'team-a']);
      expect([canReadSecrets.code, canReadSecrets.stdout.trim()]).toEqual([1, 'no']);
    });

    it('is forbidden to read Secrets or create a Deployment under AmazonEKSViewPolicy', async () => {
      const secrets = await kubectl(['get', 'secrets', '-n', 'team-a']);
      expect(secrets.code).toBe(1);
      expect(secrets.stderr).toContain('Error from server (Forbidden): secrets is forbidden: User "');
      expect(secrets.stderr).toContain(
        'cannot list resource "secrets" in API group "" in the namespace "team-a"',
      );
      const create = await kubectl(['create', 'deployment', 'web2', '--image=nginx', '-n', 'team-a']);
      expect(create.code).toBe(1);
      expect(create.stderr).toContain(
        'cannot create resource "deployments" in API group "apps" in the namespace "team-a"',
      );
    });

    it('records the proof on the link in verify mode (steps.realToolsProof)', async () => {
      const proof = await h.rt.proveLink(link.id);
      expect(proof.status).toBe('SUCCEEDED');
      expect(proof.requests.map((r) => [r.command, r.expect, r.ok])).toEqual([
        ['kubectl auth whoami', 'allowed', true],
        ['kubectl get namespaces', 'allowed', true],
        ['kubectl get secrets -n default', 'forbidden', true],
      ]);
      const read = await h.api('GET', `/links/${link.id}`);
      expect(read.status).toBe(200);
      expect(read.body.steps.realToolsProof).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(read.body.steps.realToolsProof.result.username).toBe(
        'tether:111111111111:ap-southeast-1:cluster-a:kubeai-chatbot:kubeai-chatbot:EKSGetTokenAuth',
      );
    });

    it('sees only its namespaces with a namespace-scoped link', async () => {
      const scoped = await onboard(
        demoRequest({
          source: { ...demoRequest().source, serviceAccount: 'reporter' },
          targets: [
            {
              accountId: TARGET,
              region: REGION,
              cluster: 'cluster-b',
              access: { policyArn: VIEW, scope: { type: 'namespace', namespaces: ['team-a'] } },
            },
          ],
        }),
      );
      const token = await tokenFor('reporter');
      const inScope = await kubectl(['get', 'pods', '-n', 'team-a'], token, scoped.kubeconfig);
      expect(inScope.code).toBe(0);
      expect(inScope.stdout).toContain('web-');
      const ownNamespace = await kubectl(['get', 'namespace', 'team-a'], token, scoped.kubeconfig);
      expect(ownNamespace.code).toBe(0);
      const outOfScope = await kubectl(['get', 'pods', '-n', 'team-b'], token, scoped.kubeconfig);
      expect(outOfScope.code).toBe(1);
      expect(outOfScope.stderr).toContain(
        'cannot list resource "pods" in API group "" in the namespace "team-b"',
      );
      const namespaces = await kubectl(['get', 'namespaces'], token, scoped.kubeconfig);
      expect(namespaces.code).toBe(1);
      expect(namespaces.stderr).toContain(
        'cannot list resource "namespaces" in API group "" at the cluster scope',
      );
    });

    it('lists namespaces with a direct-access link: web identity → the workload role, named by the access entry itself', async () => {
      const direct = await onboard(
        demoRequest({
          source: { ...demoRequest().source, serviceAccount: 'direct' },
          identity: { mode: 'irsa', directAccess: true },
        }),
      );
      expect(direct.kubeconfig).not.toContain('--role-arn');
      const token = await tokenFor('direct');
      const from = h.rt.sandbox.calls().length;
      const namespaces = await kubectl(['get', 'namespaces'], token, direct.kubeconfig);
      expect(namespaces.code, namespaces.stderr).toBe(0);
      expect(namespaces.stdout).toContain('team-a');
      // No role chain: the web identity session itself is what the cluster sees.
      expect(doorCalls(from)).toContain('AssumeRoleWithWebIdentity:ok');
      expect(doorCalls(from).some((c) => c.startsWith('AssumeRole:'))).toBe(false);
      const whoami = await kubectl(['auth', 'whoami', '-o', 'json'], token, direct.kubeconfig);
      expect(whoami.stdout).toContain(String(direct.link.outputs.workloadRoleArn).split('/').at(-1));
      const secrets = await kubectl(['get', 'secrets', '-n', 'default'], token, direct.kubeconfig);
      expect(secrets.code).toBe(1);
      expect(secrets.stderr).toContain('Forbidden');
    });

    it('lists namespaces with an existing principal’s link, on that role’s own credentials, once its owner allows the target role', async () => {
      // The KIAM server role, made and owned by the source account's owner.
      const principal = `arn:aws:iam::${SOURCE}:role/kiam/kiam-proof`;
      const { iam } = byHand(h.rt.sandbox, SOURCE, REGION);
      await iam.send(
        new CreateRoleCommand({
          RoleName: 'kiam-proof',
          Path: '/kiam/',
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          }),
        }),
      );
      const owned = await onboard(
        demoRequest({
          source: { ...demoRequest().source, namespace: 'capi-system', serviceAccount: 'capa-controller' },
          identity: { mode: 'principal', principalArn: principal },
          network: { mode: 'none' },
        }),
      );
      const pod = h.rt.sandbox.sessionCredentials(principal, 'kiam');
      const credentials = {
        accessKeyId: pod.accessKeyId,
        secretAccessKey: pod.secretAccessKey,
        ...(pod.sessionToken ? { sessionToken: pod.sessionToken } : {}),
      };
      const run = (args: string[]) =>
        runKubectl({
          kubeconfig: owned.kubeconfig,
          token: '',
          awsEndpoint: h.rt.doors!.aws.url,
          args,
          credentials,
        });
      // Tether never writes the source role: until its owner adds the statement, AssumeRole is refused.
      const from = h.rt.sandbox.calls().length;
      const before = await run(['get', 'namespaces']);
      expect(before.code).toBe(1);
      expect(doorCalls(from)).toContain('AssumeRole:AccessDenied');
      const statement = owned.link.outputs.sourcePrincipal as { requiredStatement?: unknown } | undefined;
      expect(statement?.requiredStatement).toBeDefined();
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'kiam-proof',
          PolicyName: 'assume-tether-target',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [statement?.requiredStatement],
          }),
        }),
      );
      const after = await run(['get', 'namespaces']);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toContain('team-a');
    });

    it('authenticates through aws-auth on a CONFIG_MAP cluster; its groups grant nothing without RBAC objects', async () => {
      const mapped = await onboard(
        demoRequest({
          targets: [
            {
              accountId: '333333333333',
              region: 'eu-west-1',
              cluster: 'cluster-c',
              access: { groups: ['viewers'] },
            },
          ],
        }),
      );
      const whoami = await kubectl(['auth', 'whoami', '-o', 'json'], undefined, mapped.kubeconfig);
      expect(whoami.code).toBe(0);
      const user = (
        JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }
      ).status.userInfo;
      expect(user.groups).toEqual(['viewers', 'system:authenticated']);
      const list = await kubectl(['get', 'namespaces'], undefined, mapped.kubeconfig);
      expect(list.code).toBe(1);
      expect(list.stderr).toContain(`User "${user.username}" cannot list resource "namespaces"`);
    });

    it('answers the AWS CLI by hand: sts get-caller-identity, iam get-role, eks describe-cluster', async () => {
      const root = h.rt.sandbox.rootCredentials(TARGET);
      const aws = async (...args: string[]) => {
        const { stdout } = await promisify(execFile)('aws', [...args, '--output', 'json'], {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: '/nonexistent',
            AWS_ENDPOINT_URL: h.rt.doors!.aws.url,
            AWS_ACCESS_KEY_ID: root.accessKeyId,
            AWS_SECRET_ACCESS_KEY: root.secretAccessKey,
            AWS_DEFAULT_REGION: REGION,
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        });
        return JSON.parse(stdout) as Record<string, any>;
      };
      expect((await aws('sts', 'get-caller-identity')).Account).toBe(TARGET);
      const role = await aws('iam', 'get-role', '--role-name', targetRoleName(link.spec));
      expect(role.Role.Arn).toBe(roleArn(TARGET, targetRoleName(link.spec)));
      // The CLI decodes the URL-encoded trust policy, as it does against IAM.
      expect(role.Role.AssumeRolePolicyDocument.Statement[0].Action).toBe('sts:AssumeRole');
      const cluster = await aws('eks', 'describe-cluster', '--name', 'cluster-b');
      expect(cluster.cluster.endpoint).toBe(h.rt.doors!.kube.endpoints.get(`${TARGET}/${REGION}/cluster-b`));
      expect(kubeconfig).toContain(cluster.cluster.certificateAuthority.data);
    });

    describe('fails at the hop it should', () => {
      it('refuses a token for another service account at AssumeRoleWithWebIdentity', async () => {
        const from = h.rt.sandbox.calls().length;
        const r = await kubectl(['get', 'namespaces'], await tokenFor('someone-else'));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          'An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity',
        );
        expect(doorCalls(from)).toEqual(['AssumeRoleWithWebIdentity:AccessDenied']);
      });

      it("refuses a token from another cluster's issuer, not registered in the source account", async () => {
        const from = h.rt.sandbox.calls().length;
        const r = await kubectl(['get', 'namespaces'], await tokenFor('kubeai-chatbot', { issuer: issuerD }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          '(InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation',
        );
        expect(r.stderr).toContain(`No OpenIDConnect provider found in your account for ${issuerD}`);
        expect(doorCalls(from)).toEqual(['AssumeRoleWithWebIdentity:InvalidIdentityToken']);
      });

      it("refuses a token naming the source issuer but signed with another cluster's key", async () => {
        const forged = await mintServiceAccountToken(h.rt.sandbox.issuerKey(issuerD)!, {
          issuer: issuerA,
          namespace: 'kubeai-chatbot',
          serviceAccount: 'kubeai-chatbot',
        });
        const r = await kubectl(['get', 'namespaces'], forged);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          '(InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation',
        );
      });

      it('refuses an expired token', async () => {
        const from = h.rt.sandbox.calls().length;
        const yesterday = new Date(Date.now() - 25 * 3600 * 1000);
        const r = await kubectl(['get', 'namespaces'], await tokenFor('kubeai-chatbot', { now: yesterday }));
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          '(ExpiredTokenException) when calling the AssumeRoleWithWebIdentity operation: Token expired',
        );
        expect(doorCalls(from)).toEqual(['AssumeRoleWithWebIdentity:ExpiredTokenException']);
      });

      it('refuses the target role when its trust was altered by hand, at AssumeRole', async () => {
        const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
        const RoleName = targetRoleName(link.spec);
        const before = (await iam.send(new GetRoleCommand({ RoleName }))).Role!.AssumeRolePolicyDocument!;
        await iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName,
            PolicyDocument: JSON.stringify({
              Version: '2012-10-17',
              Statement: [
                {
                  Effect: 'Allow',
                  Principal: { AWS: `arn:aws:iam::${TARGET}:root` },
                  Action: 'sts:AssumeRole',
                },
              ],
            }),
          }),
        );
        try {
          const from = h.rt.sandbox.calls().length;
          const r = await kubectl(['get', 'namespaces']);
          expect(r.code).not.toBe(0);
          expect(r.stderr).toContain(
            'An error occurred (AccessDenied) when calling the AssumeRole operation',
          );
          expect(doorCalls(from)).toEqual(['AssumeRoleWithWebIdentity:ok', 'AssumeRole:AccessDenied']);
        } finally {
          await iam.send(
            new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: decodeURIComponent(before) }),
          );
        }
      });

      it('is Unauthorized once the access entry is deleted, and works again after a reconcile', async () => {
        const { eks } = byHand(h.rt.sandbox, TARGET, REGION);
        await eks.send(
          new DeleteAccessEntryCommand({
            clusterName: 'cluster-b',
            principalArn: roleArn(TARGET, targetRoleName(link.spec)),
          }),
        );
        const from = h.rt.doors!.kube.log.length;
        const r = await kubectl(['get', 'namespaces']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('error: You must be logged in to the server');
        const refused = h.rt.doors!.kube.log.slice(from).filter((l) => l.status === 401);
        expect(refused.length).toBeGreaterThan(0);
        expect(refused[0]?.reason).toContain('cluster-b has no access entry or aws-auth mapping for');
        await reconcile(link.id);
        expect((await kubectl(['get', 'namespaces'])).code).toBe(0);
      });

      it('is Unauthorized when the target role was re-created by hand (the old entry is bound to the old id), until Tether heals it', async () => {
        const { iam } = byHand(h.rt.sandbox, TARGET, REGION);
        const RoleName = targetRoleName(link.spec);
        const role = (await iam.send(new GetRoleCommand({ RoleName }))).Role!;
        const policy = (
          await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: TARGET_POLICY_NAME }))
        ).PolicyDocument!;
        await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: TARGET_POLICY_NAME }));
        await iam.send(new DeleteRoleCommand({ RoleName }));
        await iam.send(
          new CreateRoleCommand({
            RoleName,
            Path: role.Path,
            AssumeRolePolicyDocument: decodeURIComponent(role.AssumeRolePolicyDocument!),
            Tags: role.Tags,
            ...(role.PermissionsBoundary?.PermissionsBoundaryArn
              ? { PermissionsBoundary: role.PermissionsBoundary.PermissionsBoundaryArn }
              : {}),
          }),
        );
        await iam.send(
          new PutRolePolicyCommand({
            RoleName,
            PolicyName: TARGET_POLICY_NAME,
            PolicyDocument: decodeURIComponent(policy),
          }),
        );
        const from = h.rt.doors!.kube.log.length;
        const r = await kubectl(['get', 'namespaces']);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('error: You must be logged in to the server');
        const refused = h.rt.doors!.kube.log.slice(from).find((l) => l.status === 401);
        expect(refused?.reason).toContain(`was made for role id ${role.RoleId}`);
        await reconcile(link.id);
        expect((await kubectl(['get', 'namespaces'])).code).toBe(0);
      });

      it('is Unauthorized when the presigned GetCallerIdentity URL has expired, at STS', async () => {
        // The token of `aws eks get-token` is valid 60 s (X-Amz-Expires); the doors' clock
        // is moved two minutes on, well inside SigV4's 15-minute skew for the other calls.
        skewMs = 120_000;
        try {
          const from = h.rt.doors!.kube.log.length;
          const r = await kubectl(['get', 'namespaces']);
          expect(r.code).toBe(1);
          expect(r.stderr).toContain('error: You must be logged in to the server');
          const refused = h.rt.doors!.kube.log.slice(from).find((l) => l.status === 401);
          expect(refused?.reason).toContain('expected 200, got 403');
          expect(refused?.reason).toContain('RequestExpired');
        } finally {
          skewMs = 0;
        }
      });
    });
  },
);
