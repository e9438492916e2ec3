/**
 * Plugs the sandbox in under a real AWS SDK v3 client: an `initialize`-step middleware
 * that answers every command from {@link Sandbox.invoke} instead of the network, and turns
 * a {@link SandboxError} into the exception object the SDK would have thrown for the same
 * error response (same class, `name`, `$fault`, `message`, `$metadata.httpStatusCode`,
 * and the protocol's extra members such as `Code`/`Type`/`Error` for the query protocols).
 *
 * The middleware sits above the SDK's retry middleware, so the SDK does not retry
 * sandbox errors: an injected throttling fault reaches the caller after one attempt (the
 * ASL owns retries in Tether).
 */
import * as ec2Sdk from '@aws-sdk/client-ec2';
import * as eksSdk from '@aws-sdk/client-eks';
import * as serviceQuotasSdk from '@aws-sdk/client-service-quotas';
import * as iamSdk from '@aws-sdk/client-iam';
import * as s3Sdk from '@aws-sdk/client-s3';
import * as stsSdk from '@aws-sdk/client-sts';
import type {
  InitializeHandlerArguments,
  InitializeHandlerOutput,
  MetadataBearer,
  Pluggable,
} from '@smithy/types';
import { randomUUID } from 'node:crypto';
import { SandboxError } from '#local/sandbox/errors';
import type { Sandbox, ServiceName } from '#local/sandbox/sandbox';

/** The parts of a resolved SDK client config the plugin reads (`client.config` fits). */
export interface SandboxClientConfig {
  readonly region?: string | (() => Promise<string> | string);
  readonly credentials?: { accessKeyId: string } | (() => Promise<{ accessKeyId: string }>);
}

type SdkService = Exclude<ServiceName, 'kubernetes'>;
type ErrorCtor = new (opts: Record<string, unknown>) => Error & Record<string, unknown>;
type Protocol = 'awsQuery' | 'ec2Query' | 'restJson' | 'awsJson' | 'restXml';

const SDKS: Record<
  SdkService,
  { module: Record<string, unknown>; base: string; protocol: Protocol; xmlns?: string }
> = {
  iam: {
    module: iamSdk as Record<string, unknown>,
    base: 'IAMServiceException',
    protocol: 'awsQuery',
    xmlns: 'https://iam.amazonaws.com/doc/2010-05-08/',
  },
  sts: {
    module: stsSdk as Record<string, unknown>,
    base: 'STSServiceException',
    protocol: 'awsQuery',
    xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/',
  },
  ec2: { module: ec2Sdk as Record<string, unknown>, base: 'EC2ServiceException', protocol: 'ec2Query' },
  eks: { module: eksSdk as Record<string, unknown>, base: 'EKSServiceException', protocol: 'restJson' },
  s3: { module: s3Sdk as Record<string, unknown>, base: 'S3ServiceException', protocol: 'restXml' },
  servicequotas: {
    module: serviceQuotasSdk as Record<string, unknown>,
    base: 'ServiceQuotasServiceException',
    protocol: 'awsJson',
  },
};

interface Modeled {
  ctor: ErrorCtor;
  fault: 'client' | 'server';
  status?: number;
}

const modeledCache = new Map<SdkService, Map<string, Modeled>>();

/**
 * The error classes a client package models, by wire code. The package exports each
 * error's schema as `<Name>$ = [-3, namespace, name, traits, …]`; for the query protocols
 * `traits.awsQueryError[0]` is the wire code (`NoSuchEntity` → `NoSuchEntityException`),
 * for the others the shape name is the code (`ResourceNotFoundException`, `NoSuchKey`).
 */
function modeledErrors(service: SdkService): Map<string, Modeled> {
  const cached = modeledCache.get(service);
  if (cached) return cached;
  const { module } = SDKS[service];
  const map = new Map<string, Modeled>();
  for (const [key, value] of Object.entries(module)) {
    if (!key.endsWith('$') || !Array.isArray(value) || value[0] !== -3) continue;
    const name = String(value[2]);
    const traits = (value[3] ?? {}) as {
      awsQueryError?: [string, number];
      error?: 'client' | 'server';
      httpError?: number;
    };
    const ctor = module[name];
    if (typeof ctor !== 'function') continue;
    const status = traits.awsQueryError?.[1] ?? traits.httpError;
    const entry: Modeled = {
      ctor: ctor as ErrorCtor,
      fault: traits.error ?? 'client',
      ...(status ? { status } : {}),
    };
    map.set(name, entry);
    if (traits.awsQueryError) map.set(traits.awsQueryError[0], entry);
  }
  modeledCache.set(service, map);
  return map;
}

/** Copies `additions` onto `exception` where it has no value yet (the SDK's decorateServiceException). */
function decorate(exception: Record<string, unknown>, additions: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(additions)) {
    if (v === undefined) continue;
    if (exception[k] === undefined || exception[k] === null || exception[k] === '') exception[k] = v;
  }
  exception.message = exception.message || exception.Message || 'UnknownError';
  delete exception.Message;
}

/**
 * The exception the real SDK client of `service` throws for the error response AWS would
 * send for `err`, following the SDK's protocol deserializers (@aws-sdk/core protocols).
 */
export function toSdkError(
  service: SdkService,
  err: SandboxError,
  options: { requestId?: string; operation?: string } = {},
): Error {
  const sdk = SDKS[service];
  const requestId = options.requestId ?? randomUUID();
  const modeled = modeledErrors(service).get(err.code);
  const status = modeled?.status ?? err.statusCode;
  const $metadata = { httpStatusCode: status, requestId, attempts: 1, totalRetryDelay: 0 };
  // S3 answers HEAD requests without a body: the SDK sees only the status code.
  const bodyless = service === 's3' && options.operation?.startsWith('Head') === true;
  const message = bodyless ? undefined : err.message;

  // The error body as the protocol's deserializer sees it.
  let dataObject: Record<string, unknown>;
  let members: Record<string, unknown>;
  if (sdk.protocol === 'awsQuery' || sdk.protocol === 'ec2Query') {
    const type = sdk.protocol === 'awsQuery' ? (status < 500 ? 'Sender' : 'Receiver') : undefined;
    const error = { Type: type, Code: err.code, Message: message };
    dataObject = { Type: type, Code: err.code, Message: message, message, Error: error, ...err.extra };
    members = { Type: type, Code: err.code, Error: error, ...err.extra };
  } else if (sdk.protocol === 'restJson' || sdk.protocol === 'awsJson') {
    // awsJson1_1 (Service Quotas) answers `{"__type": code, "Message": …}`; the SDK reads it as restJson does.
    dataObject = { message, ...err.extra };
    members = { ...err.extra };
  } else {
    dataObject = bodyless
      ? {}
      : { Code: err.code, Message: message, message, RequestId: requestId, HostId: requestId, ...err.extra };
    members = bodyless ? {} : { ...err.extra };
  }

  let exception: Error & Record<string, unknown>;
  if (modeled) {
    exception = new modeled.ctor({});
    Object.assign(
      exception,
      { $metadata, $fault: modeled.fault, message: message ?? 'UnknownError' },
      members,
    );
    // The query deserializer decorates with the whole parsed document, root attributes included.
    if (sdk.protocol === 'awsQuery')
      dataObject = { Error: dataObject.Error, RequestId: requestId, xmlns: sdk.xmlns };
  } else {
    const Base = sdk.module[sdk.base] as ErrorCtor;
    exception = new Base({ name: bodyless && status === 404 ? 'NotFound' : err.code });
    Object.assign(exception, { $metadata, $fault: status < 500 ? 'client' : 'server' });
    if (sdk.protocol === 'restJson' || sdk.protocol === 'awsJson') Object.assign(exception, members);
  }
  decorate(exception, dataObject);
  return exception;
}

async function resolve<T>(value: T | (() => Promise<T> | T) | undefined): Promise<T | undefined> {
  return typeof value === 'function' ? await (value as () => Promise<T> | T)() : value;
}

/**
 * The plug-in: `client.middlewareStack.use(sandboxPlugin(sandbox, 'iam', client.config))`.
 * `config` supplies the region and credentials (the caller's access key picks the
 * principal, hence the account). Not for the 'kubernetes' service, which has no SDK.
 */
export function sandboxPlugin(
  sandbox: Sandbox,
  service: SdkService,
  config: SandboxClientConfig,
): Pluggable<any, any> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (_next, context) =>
          async (args: InitializeHandlerArguments<any>): Promise<InitializeHandlerOutput<MetadataBearer>> => {
            const operation = String(context.commandName ?? '').replace(/Command$/, '');
            const region = (await resolve(config.region)) ?? 'us-east-1';
            const credentials = await resolve(config.credentials);
            const requestId = randomUUID();
            try {
              const output = await sandbox.invoke(service, operation, args.input as Record<string, unknown>, {
                accessKeyId: credentials?.accessKeyId ?? '',
                region,
              });
              return {
                output: {
                  ...output,
                  $metadata: { httpStatusCode: 200, requestId, attempts: 1, totalRetryDelay: 0 },
                },
                response: {},
              };
            } catch (err) {
              if (err instanceof SandboxError) throw toSdkError(service, err, { requestId, operation });
              throw err;
            }
          },
        { step: 'initialize', name: 'tetherSandboxMiddleware', priority: 'low', override: true },
      );
    },
  };
}

/**
 * Plugs the sandbox into `client` and returns it. Fits the client factory's
 * `configureClient(client, service)` hook.
 *
 * @example
 * new AwsClients({ ..., configureClient: (c, s) => attachSandbox(c, sandbox, s) });
 */
export function attachSandbox<
  C extends { config: unknown; middlewareStack: { use(p: Pluggable<any, any>): void } },
>(client: C, sandbox: Sandbox, service: string): C {
  if (!(service in SDKS)) throw new Error(`The sandbox does not serve ${service}`);
  client.middlewareStack.use(
    sandboxPlugin(sandbox, service as SdkService, client.config as SandboxClientConfig),
  );
  return client;
}
