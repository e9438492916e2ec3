/**
 * The synthesized templates, as specifications: one synth of the whole app (real esbuild
 * bundling, cdk-nag's AwsSolutions pack on) with the test configuration, then assertions on
 * the templates with `aws-cdk-lib/assertions`, and AWS's CloudFormation linter on them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '#events/registry';
import { DEMO_REQUEST } from '#local/demo';
import { tableDefinition } from '#store/table';
import { WORKFLOW_FUNCTIONS } from '#workflow/registry';
import { apiRoutes } from '../../infra/api-routes';
import { STACKS, buildApp, newApp, type TetherApp } from '../../infra/app';
import { SDK_PACKAGES } from '../../infra/bundles';
import { loadConfig } from '../../infra/config';
import { OIDC_PUBLISHERS, OIDC_READERS, WORKFLOWS } from '../../infra/hub-stack';
import { hubBusArn, hubRoleArn } from '../../infra/names';

const config = loadConfig((key) =>
  key === 'tetherConfig' ? 'test/infra/fixtures/tether.config.json' : undefined,
);
const outdir = mkdtempSync(join(tmpdir(), 'tether-synth-'));
let built: TetherApp;
let assembly: CloudAssembly | undefined;
let synthError: Error | undefined;
let synthSeconds = 0;
let hub: Template;
let member: Template;
let stackSet: Template;
let hubJson: any;

const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, any][];

beforeAll(() => {
  const started = Date.now();
  built = buildApp({ app: newApp({ outdir }), config });
  try {
    assembly = built.app.synth();
  } catch (err) {
    synthError = err as Error;
  }
  synthSeconds = (Date.now() - started) / 1000;
  console.log(`synth of the whole app (19 bundles, cdk-nag on): ${synthSeconds.toFixed(1)} s`);
  if (!assembly) return;
  hubJson = assembly.getStackByName(STACKS.hub).template;
  hub = Template.fromJSON(hubJson);
  member = Template.fromJSON(assembly.getStackByName(STACKS.member).template);
  stackSet = Template.fromJSON(assembly.getStackByName(STACKS.stackSet).template);
}, 900_000);

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('the app', () => {
  it("passes cdk-nag's AwsSolutions pack (every acknowledged finding has a written reason)", () => {
    const report = join(outdir, 'policy-validation-report.json');
    const detail = existsSync(report) ? readFileSync(report, 'utf8').slice(0, 4000) : String(synthError);
    expect(synthError, detail).toBeUndefined();
  });
});

describe('the API', () => {
  const routeKeys = () => resources(hub, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);

  it('has one route per operation of api/openapi.yaml, and no route without an operation', () => {
    const fromSpec = apiRoutes()
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const deployed = routeKeys()
      .map((p) => p.RouteKey as string)
      .filter((k) => k !== '$default')
      .sort();
    expect(fromSpec.length).toBeGreaterThanOrEqual(8);
    expect(deployed).toEqual(fromSpec);
  });

  it('requires IAM (SigV4) authorization on every route, the catch-all included', () => {
    const routes = routeKeys();
    expect(routes.map((r) => r.RouteKey)).toContain('$default');
    for (const r of routes) expect(r.AuthorizationType, r.RouteKey).toBe('AWS_IAM');
  });

  it('hands the handler payload v2, where requestContext.authorizer.iam names the caller', () => {
    hub.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
  });

  it('writes access logs', () => {
    hub.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('userArn') },
    });
  });
});

describe('the functions', () => {
  const functions = () => resources(hub, 'AWS::Lambda::Function');

  it('are one per workflow function of the registry, the API and the drift sweep', () => {
    const names = functions()
      .map(([, f]) => f.Properties.FunctionName)
      .sort();
    expect(names).toEqual(
      ['tether-api', 'tether-sweep-links', ...WORKFLOW_FUNCTIONS.map((f) => `tether-${f.name}`)].sort(),
    );
  });

  it('run the drift sweep every hour, which may start the reconcile workflow and nothing else', () => {
    const [, schedule] =
      resources(hub, 'AWS::Events::Rule').find(([, r]) => r.Properties.ScheduleExpression) ?? [];
    expect(schedule?.Properties.ScheduleExpression).toBe('rate(1 hour)');
    const [sweepId] = functions().find(([, f]) => f.Properties.FunctionName === 'tether-sweep-links') ?? [];
    expect(JSON.stringify(schedule?.Properties.Targets)).toContain(sweepId);
    const sweepRole = Object.entries(hubJson.Resources as Record<string, any>).find(
      ([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === 'tether-sweep-links',
    )?.[0];
    const starts = resources(hub, 'AWS::IAM::Policy')
      .filter(([, p]) => p.Properties.Roles.some((r: any) => r.Ref === sweepRole))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
      .filter((st: any) => [st.Action].flat().includes('states:StartExecution'));
    expect(starts).toHaveLength(1);
    expect(JSON.stringify(starts[0].Resource)).toContain('ReconcileStateMachine');
  });

  it('run Node.js 22 on arm64 with X-Ray, an explicit log group and what the runtime reads', () => {
    for (const [, f] of functions()) {
      const p = f.Properties;
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.LoggingConfig?.LogGroup).toBeDefined();
      expect(Object.keys(p.Environment.Variables)).toEqual(
        expect.arrayContaining([
          'TETHER_HUB_ACCOUNT_ID',
          'TETHER_TABLE_NAME',
          'TETHER_AGENT_ROLE_NAME',
          'TETHER_PERMISSIONS_BOUNDARY_NAME',
          'NODE_OPTIONS',
        ]),
      );
    }
    const api = functions().find(([, f]) => f.Properties.FunctionName === 'tether-api')?.[1];
    expect(Object.keys(api.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining([
        // One per file of statemachines/: a new workflow slots in without touching infra/.
        ...readdirSync('statemachines')
          .filter((f) => f.endsWith('.asl.json'))
          .map((f) => `TETHER_${f.replace('.asl.json', '').toUpperCase()}_STATE_MACHINE_ARN`),
        'TETHER_OPENAPI_PATH',
        'TETHER_POLICY_DIR',
      ]),
    );
  });

  it('carry only the SDK clients they use (bundled with esbuild, locally)', () => {
    for (const [id, f] of functions()) {
      const asset = f.Metadata?.['aws:asset:path'] as string;
      const meta = JSON.parse(readFileSync(join(outdir, asset, 'index.meta.json'), 'utf8')) as {
        inputs: Record<string, unknown>;
      };
      const inputs = Object.keys(meta.inputs);
      const has = (pkg: string) => inputs.some((i) => i.includes(`node_modules/${pkg}/`));
      const name = f.Properties.FunctionName as string;
      const needs = built.hub.functions.get(name.replace(/^tether-/, ''));
      expect(needs, id).toBeDefined();
      // S3 only where self-managed clusters' discovery documents are published or removed;
      // the steps that only write the table carry DynamoDB alone.
      expect(has(SDK_PACKAGES.s3[0]), name).toBe(
        (OIDC_PUBLISHERS as readonly string[]).includes(name.replace(/^tether-/, '')),
      );
      if (
        ['tether-mark-link-active', 'tether-mark-link-deleted', 'tether-start-provisioning'].includes(name)
      ) {
        for (const pkg of [
          '@aws-sdk/client-iam',
          '@aws-sdk/client-eks',
          '@aws-sdk/client-ec2',
          '@aws-sdk/client-sts',
          '@aws-sdk/client-rolesanywhere',
          '@aws-sdk/client-service-quotas',
        ])
          expect(has(pkg), `${name} ${pkg}`).toBe(false);
        expect(has('@aws-sdk/client-dynamodb'), name).toBe(true);
      }
    }
    const api = functions().find(([, f]) => f.Properties.FunctionName === 'tether-api')?.[1];
    expect(existsSync(join(outdir, api.Metadata['aws:asset:path'], 'openapi.yaml'))).toBe(true);
  });

  it('leave Cedar to the API: no workflow function bundles the policy engine', () => {
    for (const [, f] of functions()) {
      const asset = f.Metadata?.['aws:asset:path'] as string;
      const meta = JSON.parse(readFileSync(join(outdir, asset, 'index.meta.json'), 'utf8')) as {
        inputs: Record<string, unknown>;
      };
      const hasCedar = Object.keys(meta.inputs).some((i) => i.includes('node_modules/@cedar-policy/'));
      expect(hasCedar, f.Properties.FunctionName).toBe(f.Properties.FunctionName === 'tether-api');
    }
  });

  it('deploy the API with its Cedar policies: the bundle, loaded as Lambda loads it, refuses a stranger', () => {
    // Arrange: the API function's asset as Lambda gets it, its environment as the template sets it.
    const api = functions().find(([, f]) => f.Properties.FunctionName === 'tether-api')?.[1];
    const dir = join(outdir, api.Metadata['aws:asset:path']);
    const env = api.Properties.Environment.Variables as Record<string, unknown>;
    expect(env.TETHER_POLICY_DIR).toBe('/var/task/policies');
    expect(readdirSync(join(dir, 'policies')).sort()).toEqual(readdirSync('policies').sort());
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/links',
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(DEMO_REQUEST),
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'api',
        domainName: 'example.com',
        domainPrefix: 'example',
        http: { method: 'POST', path: '/links', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 't' },
        requestId: 'r1',
        routeKey: '$default',
        stage: '$default',
        time: '01/Jan/2026:00:00:00 +0000',
        timeEpoch: 0,
        // A caller of an account that is neither the source's nor the target's nor the hub's.
        authorizer: {
          iam: {
            accessKey: 'AKIA',
            accountId: '444444444444',
            callerId: 'AIDA',
            principalOrgId: null,
            userArn: 'arn:aws:iam::444444444444:user/mallory',
            userId: 'AIDA',
          },
        },
      },
    };
    const script = `
      const { handler } = await import(${JSON.stringify(`file://${join(dir, 'index.mjs')}`)});
      const res = await handler(${JSON.stringify(event)}, { functionName: 'tether-api', awsRequestId: 'r1', getRemainingTimeInMillis: () => 1000 });
      process.stdout.write(JSON.stringify(res));`;

    // Act: a fresh Node process, in the bundle's folder (Lambda's /var/task), policies from the asset.
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : 'x'])),
        TETHER_POLICY_DIR: join(dir, 'policies'),
        TETHER_OPENAPI_PATH: join(dir, 'openapi.yaml'),
        TETHER_HUB_ACCOUNT_ID: '000000000000',
        AWS_REGION: 'ap-southeast-1',
        AWS_LAMBDA_FUNCTION_NAME: 'tether-api',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // Assert: the policies were loaded at cold start and Cedar refused, before any AWS call.
    expect(run.status, run.stderr).toBe(0);
    const res = JSON.parse(run.stdout) as { statusCode: number; body: string };
    expect(res.statusCode, res.body).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ACCESS_DENIED' });
  });

  it('have their own roles, and only the member-calling ones may assume the agent role', () => {
    const assumers = resources(hub, 'AWS::IAM::Policy')
      .filter(([, p]) =>
        p.Properties.PolicyDocument.Statement.some((s: any) => [s.Action].flat().includes('sts:AssumeRole')),
      )
      .map(([, p]) => p.Properties.Roles[0].Ref as string);
    const roleNames = assumers
      .map((id) => hubJson.Resources[id].Properties.RoleName as string)
      .map((n) => n.replace(/^tether-/, ''))
      .sort();
    expect(roleNames).toContain('api');
    expect(roleNames).not.toContain('mark-link-active');
    expect(roleNames).not.toContain('record-failure');
  });
});

describe('the state machines', () => {
  it('are the ASL files, with each substitution the ARN of its registry function; logging and X-Ray on', () => {
    const machines = resources(hub, 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(Object.keys(WORKFLOWS).length);
    for (const [workflow, file] of Object.entries(WORKFLOWS)) {
      const sm = machines.find(([, m]) => m.Properties.StateMachineName === `tether-${workflow}`)?.[1];
      expect(sm, workflow).toBeDefined();
      const subs = sm.Properties.DefinitionSubstitutions as Record<
        string,
        { 'Fn::GetAtt': [string, string] }
      >;
      const arnOf = (key: string) => {
        const id = subs[key]?.['Fn::GetAtt'][0] ?? '';
        return `arn:aws:lambda:fn:${hubJson.Resources[id]?.Properties.FunctionName}`;
      };
      for (const fn of WORKFLOW_FUNCTIONS)
        if (subs[fn.substitution]) expect(arnOf(fn.substitution)).toBe(`arn:aws:lambda:fn:tether-${fn.name}`);
      const substitute = (text: string) => text.replace(/\$\{(\w+)\}/g, (_m, key: string) => arnOf(key));
      const deployed = JSON.parse(substitute(sm.Properties.DefinitionString));
      const source = JSON.parse(substitute(readFileSync(file, 'utf8')));
      expect(deployed).toEqual(source);
      expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
      expect(sm.Properties.LoggingConfiguration.Level).toBe('ALL');
    }
  });
});

describe('the table', () => {
  it('is the definition the local runtime uses, on demand, with PITR, TTL and deletion protection', () => {
    const def = tableDefinition(config.tableName);
    hub.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: config.tableName,
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      DeletionProtectionEnabled: true,
      KeySchema: def.KeySchema,
      AttributeDefinitions: Match.arrayEquals(def.AttributeDefinitions ?? []),
      GlobalSecondaryIndexes: def.GlobalSecondaryIndexes,
    });
  });
});

describe('the OIDC bucket', () => {
  it('blocks public ACLs, is versioned and TLS only, and is public only for the discovery keys', () => {
    const [[id, bucket]] = resources(hub, 'AWS::S3::Bucket').filter(
      ([, b]) => b.Properties.PublicAccessBlockConfiguration?.BlockPublicPolicy === false,
    ) as [[string, any]];
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: false,
      RestrictPublicBuckets: false,
    });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const [[, policy]] = resources(hub, 'AWS::S3::BucketPolicy').filter(
      ([, p]) => p.Properties.Bucket.Ref === id,
    ) as [[string, any]];
    const statements = policy.Properties.PolicyDocument.Statement as any[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const open = statements.filter((s) => s.Principal?.AWS === '*' || s.Principal === '*');
    const allows = open.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0].Action).toBe('s3:GetObject');
    expect(JSON.stringify(allows[0].Resource)).toMatch(/openid-configuration/);
    // Every other bucket blocks all public access.
    for (const [other, b] of resources(hub, 'AWS::S3::Bucket'))
      if (other !== id)
        expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        });
  });
});

describe('the OIDC bucket and its publishers', () => {
  it('gives the publishing functions its name and object access to exactly the two discovery keys, verify its name only', () => {
    const [[bucketId]] = resources(hub, 'AWS::S3::Bucket').filter(
      ([, b]) => b.Properties.PublicAccessBlockConfiguration?.BlockPublicPolicy === false,
    ) as [[string, any]];
    const policies = resources(hub, 'AWS::IAM::Policy');
    for (const [, f] of resources(hub, 'AWS::Lambda::Function')) {
      const name = (f.Properties.FunctionName as string).replace(/^tether-/, '');
      const publisher = (OIDC_PUBLISHERS as readonly string[]).includes(name);
      const reader = (OIDC_READERS as readonly string[]).includes(name);
      const env = f.Properties.Environment?.Variables ?? {};
      expect(env.TETHER_OIDC_BUCKET, name).toEqual(publisher || reader ? { Ref: bucketId } : undefined);
      const roleId = f.Properties.Role['Fn::GetAtt'][0] as string;
      const statements = policies
        .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
      const s3 = statements.filter((st) => [st.Action].flat().some((a: string) => a.startsWith('s3:')));
      if (!publisher) {
        expect(s3, name).toEqual([]);
        continue;
      }
      expect(s3, name).toHaveLength(1);
      expect(s3[0].Action).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
      const keys = JSON.stringify(s3[0].Resource);
      expect(keys).toContain('/*/.well-known/openid-configuration');
      expect(keys).toContain('/*/keys.json');
      expect(s3[0].Resource).toHaveLength(2);
    }
  });
});

describe('the hub bus, failures and alarms', () => {
  it('admits the organization and the listed accounts', () => {
    const policies = resources(hub, 'AWS::Events::EventBusPolicy').map(([, p]) => p.Properties.Statement);
    expect(policies).toContainEqual(
      expect.objectContaining({
        Condition: { StringEquals: { 'aws:PrincipalOrgID': config.organization?.id } },
      }),
    );
    expect(JSON.stringify(policies)).toContain(config.memberAccounts[0]);
  });

  it('starts the reconcile workflow on the NAT changes member accounts forward to the hub bus', () => {
    const rules = Object.values(hub.findResources('AWS::Events::Rule')).filter(
      (r: any) =>
        JSON.stringify(r.Properties.EventPattern) ===
        JSON.stringify({
          source: EVENTS.natGatewayChanged.source,
          'detail-type': EVENTS.natGatewayChanged['detail-type'],
          detail: EVENTS.natGatewayChanged.detail,
        }),
    ) as any[];
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0].Properties.Targets)).toContain('ReconcileStateMachine');
  });

  it('keeps failed executions in a queue and alarms on failed and timed-out executions and on throttles', () => {
    hub.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ 'detail-type': ['Step Functions Execution Status Change'] }),
    });
    const alarms = resources(hub, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const throttles = alarms.filter((a) => a.MetricName === 'Throttles');
    expect(throttles).toHaveLength(WORKFLOW_FUNCTIONS.length + 2); // and the API and the drift sweep
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsFailed')).toHaveLength(
      Object.keys(WORKFLOWS).length,
    );
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsTimedOut')).toHaveLength(
      Object.keys(WORKFLOWS).length,
    );
    for (const a of alarms) expect(a.AlarmActions).toHaveLength(1);
  });
});

describe('the member-account stack', () => {
  it('makes the agent role under /tether/, trusted only by the hub’s member-calling roles inside the organization', () => {
    const [[, role]] = resources(member, 'AWS::IAM::Role').filter(
      ([, r]) => r.Properties.RoleName === config.agentRoleName,
    ) as [[string, any]];
    expect(role.Properties.Path).toBe('/tether/');
    const statements = role.Properties.AssumeRolePolicyDocument.Statement as any[];
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
    for (const s of statements) {
      expect(JSON.stringify(s.Principal)).toContain(config.hub.account);
      expect(s.Condition.StringEquals).toEqual({ 'aws:PrincipalOrgID': config.organization?.id });
      const arns = JSON.stringify(s.Condition.ArnEquals['aws:PrincipalArn']);
      expect(arns).toContain('tether-hub/tether-api');
      expect(arns).not.toContain('tether-mark-link-active');
    }
    expect(hubRoleArn(config, 'api')).toBe(`arn:aws:iam::${config.hub.account}:role/tether-hub/tether-api`);
  });

  it('makes the permissions boundary, and the roles only in the hub’s region (IAM is global)', () => {
    member.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      ManagedPolicyName: config.permissionsBoundaryName,
      Path: '/tether/',
    });
    for (const type of ['AWS::IAM::Role', 'AWS::IAM::ManagedPolicy'])
      for (const [, r] of resources(member, type)) expect(r.Condition).toBe('IsIamRegion');
  });

  it('forwards the NAT gateway pattern of events/registry.ts to the hub bus, with its role', () => {
    member.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: EVENTS.natGatewayChanged,
      Targets: [Match.objectLike({ Arn: Match.anyValue(), RoleArn: Match.anyValue() })],
    });
    const [[, rule]] = resources(member, 'AWS::Events::Rule') as [[string, any]];
    const arn = JSON.stringify(rule.Properties.Targets[0].Arn);
    expect(arn).toContain(hubBusArn(config).split(':').slice(2).join(':'));
  });

  it('is deployed to the organization as a service-managed StackSet, the hub account left out', () => {
    stackSet.hasResourceProperties('AWS::CloudFormation::StackSet', {
      PermissionModel: 'SERVICE_MANAGED',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [
        {
          Regions: config.memberRegions,
          DeploymentTargets: {
            OrganizationalUnitIds: config.organization?.organizationalUnitIds,
            Accounts: [config.hub.account],
            AccountFilterType: 'DIFFERENCE',
          },
        },
      ],
    });
    const [[, set]] = resources(stackSet, 'AWS::CloudFormation::StackSet') as [[string, any]];
    const body = JSON.parse(set.Properties.TemplateBody);
    expect(Object.keys(body.Resources).sort()).toEqual(Object.keys(member.toJSON().Resources).sort());
  });
});

/** cfn-lint on this machine image's python, like moto (test/conformance/moto.ts). */
const CFN_LINT = process.env.TETHER_CFN_LINT ?? 'cfn-lint';
const cfnLint = spawnSync(CFN_LINT, ['--version'], { encoding: 'utf8', timeout: 60_000 });
const cfnLintAvailable = !cfnLint.error && cfnLint.status === 0;

describe("AWS's CloudFormation linter", () => {
  it('states whether cfn-lint is available', () => {
    console.log(
      cfnLintAvailable
        ? `cfn-lint: ${cfnLint.stdout.trim()}`
        : `cfn-lint is not available (${cfnLint.error?.message ?? cfnLint.stderr}): the template lint below is skipped; install it with pip install cfn-lint`,
    );
    expect(typeof cfnLintAvailable).toBe('boolean');
  });

  it.runIf(cfnLintAvailable)('finds nothing in the hub, member and StackSet templates', () => {
    const files = [STACKS.hub, STACKS.member, STACKS.stackSet].map((s) => join(outdir, `${s}.template.json`));
    const run = spawnSync(CFN_LINT, ['--format', 'parseable', ...files], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(run.error).toBeUndefined();
    expect(run.stdout.trim(), run.stdout).toBe('');
    expect(run.status).toBe(0);
  });
});
