/**
 * The house Lambda function: `NodejsFunction` with Tether's defaults — Node.js 22 on arm64,
 * bundled locally by esbuild (never in Docker) as ESM with source maps, X-Ray tracing, an
 * explicit log group with a retention, the Powertools environment, and only the AWS SDK
 * clients the function uses (`infra/bundles.ts`).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { absentClientAliases, type BundleNeeds, REPO_ROOT } from '../bundles';

export interface TetherFunctionProps {
  /** The source file and what its bundle needs (`analyseBundles`). */
  readonly needs: BundleNeeds;
  /** Function name. */
  readonly functionName: string;
  readonly description: string;
  /** Environment variables on top of the Powertools ones. @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Log retention. */
  readonly logRetention: RetentionDays;
  /** The execution role (made by the stack, so it can carry a stable name). */
  readonly role: iam.IRole;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 512 MB */
  readonly memorySize?: number;
  /** Commands run around bundling (copy files into the asset). @default none */
  readonly commandHooks?: ICommandHooks;
}

/** Makes `require` available inside the ESM bundle, for CommonJS dependencies. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __tetherCreateRequire } from 'node:module'; const require = __tetherCreateRequire(import.meta.url);";

/**
 * A Tether Lambda function with the house defaults.
 *
 * @example
 * new TetherFunction(this, 'Api', { needs, functionName: 'tether-api', description: 'The API', logRetention, role });
 */
export class TetherFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TetherFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      logGroupName: `/aws/lambda/${props.functionName}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      functionName: props.functionName,
      description: props.description,
      entry: `${REPO_ROOT}${props.needs.entry}`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      logGroup,
      role: props.role,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'tether',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // index.meta.json: what the bundle holds (the tests and `npm run bench` read it).
        metafile: true,
        // The SDK is bundled (not the runtime's copy): the lock file's version, tree-shaken.
        bundleAwsSDK: true,
        externalModules: [],
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        esbuildArgs: absentClientAliases(props.needs),
        ...(props.commandHooks ? { commandHooks: props.commandHooks } : {}),
      },
    });
  }
}
