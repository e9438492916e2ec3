/**
 * The hub stack (docs/deployment.md#the-hub-stack): the API, one Lambda function per workflow
 * function of the registry, the state machines from `statemachines/*.asl.json`, the table
 * from `functions/store/table.ts`, the hub bus, the OIDC bucket, and the alarms. The same
 * handlers and ASL files the local runtime runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  Aws,
  CfnOutput,
  type CfnResource,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import {
  type CfnStage,
  HttpApi,
  type HttpMethod,
  HttpRoute,
  HttpRouteKey,
  type HttpStage,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Construct } from 'constructs';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { EVENTS } from '#events/registry';
import { tableDefinition, TTL_ATTRIBUTE } from '#store/table';
import { WORKFLOW_FUNCTIONS } from '#workflow/registry';
import { apiRoutes } from './api-routes';
import type { BundleNeeds } from './bundles';
import { REPO_ROOT } from './bundles';
import type { TetherConfig } from './config';
import { TetherFunction } from './constructs/tether-function';
import { API_FUNCTION, HUB_BUS_NAME, HUB_ROLE_PATH, hubFunctionName, SWEEP_FUNCTION } from './names';

export interface HubStackProps extends StackProps {
  readonly config: TetherConfig;
  /** What each function's bundle needs, by entry (`analyseBundles`). */
  readonly needs: ReadonlyMap<string, BundleNeeds>;
}

/** The workflows and their ASL files. */
export const WORKFLOWS: Readonly<Record<string, string>> = Object.fromEntries(
  readdirSync(`${REPO_ROOT}statemachines`)
    .filter((f) => f.endsWith('.asl.json'))
    .sort()
    .map((f) => [f.slice(0, -'.asl.json'.length), `statemachines/${f}`]),
);

/** The environment variable that gives the API a workflow's state machine: `TETHER_<NAME>_STATE_MACHINE_ARN`. */
export const stateMachineArnVariable = (workflow: string) =>
  `TETHER_${workflow.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_STATE_MACHINE_ARN`;

/** Where the API function finds the spec inside its bundle. */
const BUNDLED_SPEC = 'openapi.yaml';
/** The policies' folder inside the API function's bundle. */
const BUNDLED_POLICIES = 'policies';
/** Cedar's WebAssembly module, read by `@cedar-policy/cedar-wasm/nodejs` from the bundle's folder. */
const CEDAR_WASM = join(
  dirname(createRequire(import.meta.url).resolve('@cedar-policy/cedar-wasm/nodejs')),
  'cedar_wasm_bg.wasm',
);

const ATTRIBUTE_TYPES: Record<string, AttributeType> = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
  B: AttributeType.BINARY,
};

/** The table's keys and indexes as CDK takes them, from the definition the local runtime uses. */
function tableSchema(def: CreateTableCommandInput) {
  const typeOf = (name: string) => {
    const t = def.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
    const type = t ? ATTRIBUTE_TYPES[t] : undefined;
    if (!type) throw new Error(`table definition: no type for attribute ${name}`);
    return type;
  };
  const keys = (schema: CreateTableCommandInput['KeySchema']) => {
    const hash = schema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = schema?.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (!hash) throw new Error('table definition: a key schema has no HASH key');
    return {
      partitionKey: { name: hash, type: typeOf(hash) },
      ...(range ? { sortKey: { name: range, type: typeOf(range) } } : {}),
    };
  };
  return {
    ...keys(def.KeySchema),
    indexes: (def.GlobalSecondaryIndexes ?? []).map((gsi) => {
      if (gsi.Projection?.ProjectionType !== 'ALL')
        throw new Error(`table definition: index ${gsi.IndexName} must project ALL`);
      return { indexName: gsi.IndexName ?? '', ...keys(gsi.KeySchema) };
    }),
  };
}

export class HubStack extends Stack {
  readonly api: HttpApi;
  readonly table: Table;
  readonly functions = new Map<string, TetherFunction>();
  readonly stateMachines = new Map<string, StateMachine>();
  readonly oidcBucket: Bucket;
  readonly failedExecutions: Queue;

  constructor(scope: Construct, id: string, props: HubStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.logRetentionDays as RetentionDays;
    const needsOf = (entry: string) => {
      const needs = props.needs.get(entry);
      if (!needs) throw new Error(`no bundle analysis for ${entry}`);
      return needs;
    };

    // ---- the table --------------------------------------------------------------------
    const definition = tableDefinition(config.tableName);
    if (definition.BillingMode !== 'PAY_PER_REQUEST') throw new Error('the table is on-demand');
    const schema = tableSchema(definition);
    this.table = new Table(this, 'Table', {
      tableName: config.tableName,
      partitionKey: schema.partitionKey,
      ...(schema.sortKey ? { sortKey: schema.sortKey } : {}),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: true,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of schema.indexes) this.table.addGlobalSecondaryIndex(index);

    // ---- the functions ----------------------------------------------------------------
    const environment = {
      TETHER_HUB_ACCOUNT_ID: Aws.ACCOUNT_ID,
      TETHER_TABLE_NAME: this.table.tableName,
      TETHER_AGENT_ROLE_NAME: config.agentRoleName,
      TETHER_PERMISSIONS_BOUNDARY_NAME: config.permissionsBoundaryName,
    };
    const agentRoles = `arn:${Aws.PARTITION}:iam::*:role${config.rolePath}${config.agentRoleName}`;
    const roleFor = (name: string, needs: BundleNeeds) => {
      const role = new iam.Role(this, `${pascal(name)}Role`, {
        roleName: hubFunctionName(name),
        path: HUB_ROLE_PATH,
        description: `Tether hub function ${hubFunctionName(name)}`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      this.table.grantReadWriteData(role);
      if (needs.member) {
        // Into member accounts only as the agent role (and in the organization).
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            sid: 'AssumeAgentRoles',
            actions: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
            resources: [agentRoles],
            ...(config.organization
              ? { conditions: { StringEquals: { 'aws:ResourceOrgID': config.organization.id } } }
              : {}),
          }),
        );
      }
      return role;
    };

    for (const fn of WORKFLOW_FUNCTIONS) {
      const needs = needsOf(fn.entry);
      const f = new TetherFunction(this, pascal(fn.name), {
        needs,
        functionName: hubFunctionName(fn.name),
        description: `Tether step "${fn.state}"`,
        environment,
        logRetention: retention,
        role: roleFor(fn.name, needs),
        timeout: Duration.minutes(2),
      });
      this.functions.set(fn.name, f);
    }

    // ---- the state machines: ASL stays ASL --------------------------------------------
    const substitutions = Object.fromEntries(
      WORKFLOW_FUNCTIONS.map((fn) => [fn.substitution, this.functions.get(fn.name)?.functionArn ?? '']),
    );
    for (const [workflow, file] of Object.entries(WORKFLOWS)) {
      const asl = readFileSync(`${REPO_ROOT}${file}`, 'utf8');
      const logs = new LogGroup(this, `${pascal(workflow)}Logs`, {
        logGroupName: `/aws/vendedlogs/states/tether-${workflow}`,
        retention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const used = Object.keys(substitutions).filter((key) => asl.includes(`\${${key}}`));
      const sm = new StateMachine(this, `${pascal(workflow)}StateMachine`, {
        stateMachineName: `tether-${workflow}`,
        stateMachineType: StateMachineType.STANDARD,
        definitionBody: DefinitionBody.fromString(asl),
        definitionSubstitutions: Object.fromEntries(used.map((k) => [k, substitutions[k] ?? ''])),
        tracingEnabled: true,
        logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      });
      for (const fn of WORKFLOW_FUNCTIONS) {
        if (used.includes(fn.substitution)) this.functions.get(fn.name)?.grantInvoke(sm);
      }
      if (hasParallelParameters(JSON.parse(asl))) {
        // cfn-lint's ASL schema (E3601) refuses `Parameters` on a Parallel state, which AWS
        // documents ("Parameters (Optional, JSONPath only): used to pass information to the
        // state machines defined in the Branches array"). The ASL is checked by the local
        // interpreter with its validation on (test/unit/workflow/asl.test.ts).
        (sm.node.defaultChild as CfnResource).addMetadata('cfn-lint', {
          config: { ignore_checks: ['E3601'] },
        });
      }
      this.stateMachines.set(workflow, sm);
    }

    // ---- the API ----------------------------------------------------------------------
    const apiNeeds = needsOf('functions/api/handler.ts');
    const apiRole = roleFor(API_FUNCTION, apiNeeds);
    if (!this.stateMachines.has('onboard') || !this.stateMachines.has('offboard')) {
      throw new Error('statemachines/ must hold onboard.asl.json and offboard.asl.json');
    }
    const apiFunction = new TetherFunction(this, 'ApiFunction', {
      needs: apiNeeds,
      functionName: hubFunctionName(API_FUNCTION),
      description: 'Tether API (api/openapi.yaml)',
      environment: {
        ...environment,
        // Every workflow of statemachines/, so a new one slots in without touching infra/.
        ...Object.fromEntries(
          [...this.stateMachines].map(([w, sm]) => [stateMachineArnVariable(w), sm.stateMachineArn]),
        ),
        TETHER_OPENAPI_PATH: `/var/task/${BUNDLED_SPEC}`,
        // The Cedar policies and their schema, deployed with the function (docs/deployment.md).
        TETHER_POLICY_DIR: `/var/task/${BUNDLED_POLICIES}`,
      },
      logRetention: retention,
      role: apiRole,
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // The router validates every request against the spec, read from the bundle; the
        // policies decide every request; Cedar's WebAssembly module sits beside the bundle.
        afterBundling: (_input, output) => [
          `cp "${REPO_ROOT}api/openapi.yaml" "${output}/${BUNDLED_SPEC}"`,
          `mkdir -p "${output}/${BUNDLED_POLICIES}"`,
          `cp "${REPO_ROOT}policies/"*.cedar "${REPO_ROOT}policies/"*.cedarschema "${output}/${BUNDLED_POLICIES}/"`,
          `cp "${CEDAR_WASM}" "${output}/"`,
        ],
      },
    });
    this.functions.set(API_FUNCTION, apiFunction);
    for (const sm of this.stateMachines.values()) sm.grantStartExecution(apiRole);
    apiRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeRuns',
        // GET /links/{id}/runs: each run's status and its history (states, retries, errors).
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: Object.keys(WORKFLOWS).map(
          (w) => `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:tether-${w}:*`,
        ),
      }),
    );

    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      logGroupName: '/aws/apigateway/tether-api',
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new HttpApi(this, 'Api', {
      apiName: 'tether',
      description: 'Tether API (api/openapi.yaml); every route requires SigV4 (IAM)',
      createDefaultStage: true,
    });
    const integration = new HttpLambdaIntegration('ApiIntegration', apiFunction, {
      // requestContext.authorizer.iam carries the caller (docs/deployment.md#calling-the-api).
      payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
    });
    const authorizer = new HttpIamAuthorizer();
    for (const route of apiRoutes()) {
      if (!route.sigv4 || route.authType !== 'AWS_IAM')
        throw new Error(`${route.method} ${route.path}: the spec must ask for SigV4 (AWS_IAM)`);
      new HttpRoute(this, `Route${pascal(route.operationId)}`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, route.method as HttpMethod),
        integration,
        authorizer,
      });
    }
    // Unknown paths and methods reach the handler too (signed), so they get the spec's
    // problem+json 404 ROUTE_NOT_FOUND and 405 METHOD_NOT_ALLOWED with `Allow`.
    new HttpRoute(this, 'RouteDefault', {
      httpApi: this.api,
      routeKey: HttpRouteKey.DEFAULT,
      integration,
      authorizer,
    });
    const stage = this.api.defaultStage as HttpStage;
    const cfnStage = stage.node.defaultChild as CfnStage;
    cfnStage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        caller: '$context.identity.caller',
        user: '$context.identity.user',
        userArn: '$context.identity.userArn',
        requestTime: '$context.requestTime',
        httpMethod: '$context.httpMethod',
        routeKey: '$context.routeKey',
        path: '$context.path',
        status: '$context.status',
        protocol: '$context.protocol',
        responseLength: '$context.responseLength',
        integrationError: '$context.integrationErrorMessage',
      }),
    };
    cfnStage.defaultRouteSettings = { throttlingBurstLimit: 50, throttlingRateLimit: 20 };

    // ---- the hub bus ------------------------------------------------------------------
    const bus = new EventBus(this, 'HubBus', { eventBusName: HUB_BUS_NAME });
    if (config.organization) {
      bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'tether-organization',
          principals: [new iam.AnyPrincipal()],
          actions: ['events:PutEvents'],
          resources: [bus.eventBusArn],
          conditions: { StringEquals: { 'aws:PrincipalOrgID': config.organization.id } },
        }),
      );
    }
    if (config.memberAccounts.length) {
      bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'tether-member-accounts',
          principals: config.memberAccounts.map((a) => new iam.AccountPrincipal(a)),
          actions: ['events:PutEvents'],
          resources: [bus.eventBusArn],
        }),
      );
    }
    // The forwarded NAT gateway events start the reconcile workflow, whose first state finds
    // the affected links from the event (statemachines/reconcile.asl.json); they are also
    // archived, to be replayed after an outage.
    const reconcile = this.stateMachines.get('reconcile');
    if (!reconcile) throw new Error('statemachines/ must hold reconcile.asl.json: the NAT events start it');
    new Rule(this, 'NatGatewayChangesRule', {
      eventBus: bus,
      description: "Tether: a member account changed a VPC's NAT egress IPs: reconcile its links",
      eventPattern: {
        source: [...EVENTS.natGatewayChanged.source],
        detailType: [...EVENTS.natGatewayChanged['detail-type']],
        detail: EVENTS.natGatewayChanged.detail,
      },
      targets: [new SfnStateMachine(reconcile)],
    });
    bus.archive('NatGatewayChanges', {
      archiveName: 'tether-nat-gateway-changes',
      description: 'NAT gateway changes forwarded by member accounts (events/registry.ts)',
      eventPattern: {
        source: [...EVENTS.natGatewayChanged.source],
        detailType: [...EVENTS.natGatewayChanged['detail-type']],
        detail: EVENTS.natGatewayChanged.detail,
      },
      retention: Duration.days(config.logRetentionDays),
    });

    // ---- the drift sweep (docs/architecture.md#the-sweep-and-its-cost) ----------------
    // One Lambda on an hourly schedule, no state machine: it pages the live links and verifies
    // each (reads only), so a Standard workflow would bill transitions and an Express one its
    // duration for what one invocation does; only the drifted links go to the (Standard)
    // reconcile workflow, which it starts.
    const sweepNeeds = needsOf('functions/sweep/handler.ts');
    const sweepRole = roleFor(SWEEP_FUNCTION, sweepNeeds);
    const sweepFunction = new TetherFunction(this, pascal(SWEEP_FUNCTION), {
      needs: sweepNeeds,
      functionName: hubFunctionName(SWEEP_FUNCTION),
      description: 'Tether drift sweep: verify every live link, reconcile the drifted ones',
      environment: { ...environment, TETHER_RECONCILE_STATE_MACHINE_ARN: reconcile.stateMachineArn },
      logRetention: retention,
      role: sweepRole,
      memorySize: 256,
      timeout: Duration.minutes(15),
    });
    this.functions.set(SWEEP_FUNCTION, sweepFunction);
    reconcile.grantStartExecution(sweepRole);
    new Rule(this, 'DriftSweepSchedule', {
      description: 'Tether: the hourly drift sweep of every live link',
      schedule: Schedule.rate(Duration.hours(1)),
      targets: [new LambdaFunction(sweepFunction, { retryAttempts: 0 })],
    });

    // ---- the OIDC bucket --------------------------------------------------------------
    const accessLogBucket = new Bucket(this, 'OidcAccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const oidcBucket = new Bucket(this, 'OidcBucket', {
      // Public reads of the discovery documents only: IAM fetches them anonymously over HTTPS.
      blockPublicAccess: new BlockPublicAccess({
        blockPublicAcls: true,
        ignorePublicAcls: true,
        blockPublicPolicy: false,
        restrictPublicBuckets: false,
      }),
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogBucket,
      serverAccessLogsPrefix: 'oidc/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.oidcBucket = oidcBucket;
    // The functions that publish, remove or read back self-managed clusters' discovery
    // documents (docs/architecture.md#oidc-publishing-for-self-managed-clusters): the bucket's name, and object
    // reads and writes of exactly the two discovery keys, with the hub's own role (the bucket
    // is the hub's, not a member account's).
    for (const name of [...OIDC_PUBLISHERS, ...OIDC_READERS]) {
      const fn = this.functions.get(name);
      if (!fn) throw new Error(`No function ${name} to give the OIDC bucket to`);
      fn.addEnvironment('TETHER_OIDC_BUCKET', oidcBucket.bucketName);
      fn.addEnvironment('TETHER_OIDC_BUCKET_REGION', Aws.REGION);
      // Readers read the documents back anonymously over HTTPS, as IAM and STS do: no S3 access.
      if ((OIDC_READERS as readonly string[]).includes(name)) continue;
      fn.role?.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PublishOidcDiscovery',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [
            oidcBucket.arnForObjects('*/.well-known/openid-configuration'),
            oidcBucket.arnForObjects('*/keys.json'),
          ],
        }),
      );
    }

    oidcBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'PublicOidcDiscovery',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [
          oidcBucket.arnForObjects('*/.well-known/openid-configuration'),
          oidcBucket.arnForObjects('*/keys.json'),
        ],
      }),
    );

    // ---- failures and throttles: a queue of failed executions, and alarms ------------
    const topic = new Topic(this, 'Alarms', { topicName: 'tether-alarms', enforceSSL: true });
    if (config.alarmEmail) topic.addSubscription(new EmailSubscription(config.alarmEmail));
    const alarmAction = new SnsAction(topic);
    const failedRuns = new Queue(this, 'FailedExecutions', {
      queueName: 'tether-failed-executions',
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.failedExecutions = failedRuns;
    new Rule(this, 'FailedExecutionsRule', {
      description:
        'Tether: failed, timed-out and aborted workflow executions, kept for inspection and redrive',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [...this.stateMachines.values()].map((sm) => sm.stateMachineArn),
        },
      },
      targets: [new SqsQueue(failedRuns)],
    });
    new Alarm(this, 'FailedExecutionsWaiting', {
      alarmName: 'tether-failed-executions-waiting',
      alarmDescription: 'A workflow execution failed and waits in tether-failed-executions',
      metric: failedRuns.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);
    for (const [workflow, sm] of this.stateMachines) {
      for (const [what, metric] of [
        ['failed', sm.metricFailed({ period: Duration.minutes(5) })],
        ['timed-out', sm.metricTimedOut({ period: Duration.minutes(5) })],
      ] as const) {
        new Alarm(this, `${pascal(workflow)}${pascal(what)}Alarm`, {
          alarmName: `tether-${workflow}-executions-${what}`,
          alarmDescription: `Tether ${workflow} executions ${what}`,
          metric,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }).addAlarmAction(alarmAction);
      }
    }
    for (const [name, fn] of this.functions) {
      new Alarm(this, `${pascal(name)}Throttled`, {
        alarmName: `${hubFunctionName(name)}-throttled`,
        alarmDescription: `Tether function ${hubFunctionName(name)} was throttled`,
        metric: fn.metricThrottles({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
    }

    // A function (or state machine) needs its role's policy in place before it runs; the
    // role itself it already references (cfn-lint W3005: a DependsOn on it is redundant).
    const dependOnPolicyOnly = (resource: CfnResource, role: iam.IRole | undefined) => {
      const policy = role?.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
      if (policy) resource.addOverride('DependsOn', [this.getLogicalId(policy)]);
    };
    for (const fn of this.functions.values())
      dependOnPolicyOnly(fn.node.defaultChild as CfnResource, fn.role);
    for (const sm of this.stateMachines.values())
      dependOnPolicyOnly(sm.node.defaultChild as CfnResource, sm.role);

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'The API (SigV4)' });
    new CfnOutput(this, 'HubBusArn', { value: bus.eventBusArn });
    new CfnOutput(this, 'OidcBucketName', { value: oidcBucket.bucketName });
  }
}

/** Whether an ASL document has a Parallel state with `Parameters`, at any depth. */
function hasParallelParameters(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasParallelParameters);
  if (node === null || typeof node !== 'object') return false;
  const state = node as Record<string, unknown>;
  if (state.Type === 'Parallel' && state.Parameters !== undefined) return true;
  return Object.values(state).some(hasParallelParameters);
}

/**
 * The functions that publish or remove self-managed clusters' OIDC discovery (the OIDC
 * provider steps, and the API's `PUT`/`DELETE /clusters/…`, which republishes on a key
 * rotation): the bucket's name and object access to the two discovery keys.
 */
export const OIDC_PUBLISHERS = ['ensure-oidc-provider', 'release-oidc-provider', API_FUNCTION] as const;

/** The functions that only read the documents back anonymously (verify, the drift sweep): the bucket's name only. */
export const OIDC_READERS = ['verify-role-chain', SWEEP_FUNCTION] as const;

/** `ensure-oidc-provider` → `EnsureOidcProvider`. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
