/**
 * The local runtime, the embedded default (docs/architecture.md#runtimes): the real API handler behind
 * a loopback HTTP server, the real ASL files run in-process with the real step handlers, the
 * embedded DynamoDB, and the sandbox of AWS accounts under the real SDK clients — all from
 * one data directory, so a restart (or a crash) loses nothing.
 */
import './polyfills';
import { join } from 'node:path';
import type { Pluggable } from '@smithy/types';
import { handler as apiHandler } from '#api/handler';
import { AwsClients } from '#aws/clients';
import type { KubernetesTarget } from '#aws/kubernetes';
import type { LinkStore } from '#store/links';
import { DEFAULT_TABLE_NAME } from '#store/table';
import { loadAccessControl } from '#api/access';
import { DISCOVERY_BUCKET_PUBLIC_ACCESS_BLOCK, discoveryBucketPolicy } from '#resources/oidc-discovery';
import { configureRuntime, type TetherRuntime, tableStores } from '#functions/runtime';
import type { CidrGuardrails } from '#link/cidrs';
import { startDynamo } from '#local/adapters/dynamodb';
import { startHttpServer } from '#local/adapters/http';
import { type AwsDoor, startAwsDoor } from '#local/adapters/aws-http/index';
import { type KubeApis, startKubeApis } from '#local/adapters/kube-api';
import { sandboxKubernetes } from '#local/adapters/kubernetes';
import { Sandbox } from '#local/sandbox/index';
import { sandboxPlugin } from '#local/adapters/sdk-plugin';
import {
  LocalStepFunctions,
  type LocalStepFunctionsOptions,
  localSfnPlugin,
} from '#local/adapters/stepfunctions';
import {
  checkDataDirectory,
  DATA_DIRECTORY_LAYOUT,
  DataDirectoryDamagedError,
  lockDataDirectory,
} from './data-dir-lock';
import { proveLink, type RealToolsProof } from './proof';
import { redriveUnfinished } from './redrive';
import { natChangeBus } from './adapters/eventbridge-rules';
import { withSandboxAdmin } from './adapters/sandbox-admin';
import type { LocalEventBus } from './adapters/eventbridge';
import { outcomeOf, withSweepAdmin } from './adapters/sweep-admin';
import { type SweepOptions, type SweepReport, sweepLinks } from '#resources/sweep';

export { DataDirectoryDamagedError, DataDirectoryError, DataDirectoryInUseError } from './data-dir-lock';

/** The control plane's own account and region when it runs locally. */
export const LOCAL_HUB_ACCOUNT_ID = '000000000000';
export const LOCAL_HUB_REGION = 'ap-southeast-1';
/**
 * Who the local runtime acts as when a request names no caller (no `x-tether-caller`):
 * Tether's operator, in Tether's own account — which the default policies let do anything.
 */
export const LOCAL_OPERATOR_ARN = `arn:aws:iam::${LOCAL_HUB_ACCOUNT_ID}:role/tether-operator`;

/** The name of Tether's OIDC bucket in the local runtime's hub account. */
export const localOidcBucket = (hubAccountId: string) => `tether-oidc-${hubAccountId}`;

export interface LocalRuntimeOptions {
  /** Where the table, the sandbox and the executions live; none = in memory. */
  readonly dataDir?: string;
  /** HTTP port; 0 = any free port. @default 0 */
  readonly port?: number;
  readonly host?: string;
  /**
   * Where the member-account AWS calls go. `sandbox`: the embedded sandbox. `environment`:
   * wherever the SDK's own configuration points — `AWS_ENDPOINT_URL` (moto, LocalStack, …)
   * or real AWS with the default credential chain (docs/architecture.md#real-aws-without-the-hub).
   * The table and the workflows stay local either way; the sandbox then sits idle.
   * @default 'sandbox'
   */
  readonly aws?: 'sandbox' | 'environment';
  /** The hub's account id in `environment` mode (whose credentials assume the agent roles). @default 000000000000 */
  readonly hubAccountId?: string;
  /** The sandbox's initial world when the data directory is new. @default 'demo' */
  readonly world?: 'demo' | 'empty';
  /** Retry waits in ms instead of the ASL's. @default 50 */
  readonly retryIntervalMs?: number;
  readonly onEvent?: LocalStepFunctionsOptions['onEvent'];
  /** The sandbox's simulated IAM propagation delay (see `Sandbox.open`). @default 0 */
  readonly propagationDelayCalls?: number;
  /** The sandbox's simulated IAM read-after-write lag (see `Sandbox.open`). @default 0 */
  readonly readAfterWriteLagCalls?: number;
  /**
   * Put on the local bus what the sandbox's CloudTrail records, so a NAT change in a source
   * account reconciles its links as in AWS. @default true
   */
  readonly cloudTrailEvents?: boolean;
  /** Re-drive links a previous process left half-done. @default true */
  readonly redrive?: boolean;
  /** The folder of the Cedar policies and their schema. @default `TETHER_POLICY_DIR`, else the repository's `policies/` */
  readonly policyDir?: string;
  /** Limits on explicit CIDRs. @default /24 at widest, 20 per link */
  readonly cidrGuardrails?: Partial<CidrGuardrails>;
  /** The caller of requests without `x-tether-caller`. @default `tether-operator` of the hub account ({@link LOCAL_OPERATOR_ARN}) */
  readonly operatorArn?: string;
  /**
   * Serve the sandbox over HTTP too (docs/architecture.md#the-doors): the AWS door
   * (STS, IAM, EKS, the OIDC issuers; local/adapters/aws-http/) and a TLS Kubernetes API per
   * cluster (local/adapters/kube-api.ts), all on 127.0.0.1, ephemeral ports. `npm start`
   * turns them on. Only with the embedded sandbox. @default false
   */
  readonly doors?: boolean;
  /** The clock the doors check signatures and token dates against (tests move it). @default the clock */
  readonly doorClock?: () => Date;
  /**
   * Run the drift sweep every this many ms (in AWS: hourly, infra/hub-stack.ts). Off by
   * default (tests sweep when they mean to: {@link LocalRuntime.sweep}, `POST /_sandbox/sweep`);
   * `npm start` reads `TETHER_SWEEP_MINUTES`. @default off
   */
  readonly sweepIntervalMs?: number;
}

/** The sandbox's HTTP doors, when {@link LocalRuntimeOptions.doors} is on. */
export interface SandboxDoors {
  /** STS, IAM, EKS and the OIDC issuers, as AWS speaks them: what `AWS_ENDPOINT_URL` takes. */
  readonly aws: AwsDoor;
  /** The clusters' Kubernetes APIs. */
  readonly kube: KubeApis;
}

export interface LocalRuntime {
  readonly url: string;
  readonly port: number;
  readonly sandbox: Sandbox;
  readonly stepFunctions: LocalStepFunctions;
  /** The local event bus: the sandbox's CloudTrail on it, the rules of `events/registry.ts` (`local/adapters/eventbridge-rules.ts`). */
  readonly eventBus: LocalEventBus;
  readonly clients: AwsClients;
  readonly links: LinkStore;
  readonly runtime: TetherRuntime;
  /** The sandbox's HTTP doors, when started with `doors: true`. */
  readonly doors?: SandboxDoors;
  /**
   * Verify mode with the real tools (local/proof.ts): runs `kubectl` with the link's
   * kubeconfig through the real chain and records the outcome on the link
   * (`steps.realToolsProof`). Needs the doors.
   */
  proveLink(id: string): Promise<RealToolsProof>;
  /**
   * The drift sweep once, now (`#resources/sweep`): every live link verified, the
   * verifications that changed recorded, the links with drift sent to the reconcile.
   */
  sweep(options?: SweepOptions): Promise<SweepReport>;
  /** Links found half-done at start and re-driven. */
  readonly redriven: readonly string[];
  /** What the start did that the user should hear of (a stale lock taken over). */
  readonly notices: readonly string[];
  /**
   * Simulates a crash at this instant: every execution is aborted and every later AWS or
   * table call of this process fails, so nothing after this point reaches any state.
   */
  halt(): void;
  close(): Promise<void>;
}

/** Refuses every call once the runtime is halted (a simulated crash). */
function haltPlugin(isHalted: () => boolean): Pluggable<any, any> {
  return {
    applyToStack(stack) {
      stack.add(
        (next) => async (args: any) => {
          if (isHalted())
            throw Object.assign(new Error('The local runtime was halted (simulated crash)'), {
              name: 'Halted',
            });
          return next(args);
        },
        { step: 'initialize', name: 'tetherHalt', priority: 'high' },
      );
    },
  };
}

/**
 * Starts the whole control plane on this machine. A data directory that is locked, or whose
 * stores are missing or damaged, stops the start with a {@link DataDirectoryError} whose
 * message names the file and what to do; nothing is seeded over it.
 *
 * @example
 * const rt = await startLocalRuntime({ dataDir: '.tether' });
 * await fetch(`${rt.url}/links`);
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  // The policies first: a bad policy file stops the start before anything is opened.
  const access = loadAccessControl({
    hubAccountId: options.hubAccountId ?? LOCAL_HUB_ACCOUNT_ID,
    ...(options.policyDir ? { policyDir: options.policyDir } : {}),
    ...(options.cidrGuardrails ? { cidrs: options.cidrGuardrails } : {}),
  });
  const dataDir = options.dataDir;
  const lock = dataDir ? lockDataDirectory(dataDir) : undefined;
  /** What a start that fails part-way undoes, last step first. */
  const undo: (() => unknown)[] = [() => lock?.release()];
  try {
    // Every store is checked before one is opened or seeded (local/data-dir-lock.ts).
    const check = dataDir ? checkDataDirectory(dataDir) : undefined;
    let halted = false;
    const sandbox = Sandbox.open({
      ...(dataDir ? { dataDir: join(dataDir, DATA_DIRECTORY_LAYOUT.sandbox) } : {}),
      world: options.world ?? 'demo',
      ...(options.propagationDelayCalls ? { propagationDelayCalls: options.propagationDelayCalls } : {}),
      ...(options.readAfterWriteLagCalls ? { readAfterWriteLagCalls: options.readAfterWriteLagCalls } : {}),
    });
    const stepFunctions = new LocalStepFunctions({
      accountId: LOCAL_HUB_ACCOUNT_ID,
      region: LOCAL_HUB_REGION,
      retryIntervalMs: options.retryIntervalMs ?? 50,
      ...(dataDir ? { dataDir } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    const tableName = DEFAULT_TABLE_NAME;
    const dynamo = await startDynamo({
      ...(dataDir ? { path: join(dataDir, DATA_DIRECTORY_LAYOUT.table) } : {}),
      tableName,
    });
    undo.unshift(() => dynamo.close());
    check?.commit();
    const useSandbox = (options.aws ?? 'sandbox') === 'sandbox';
    let doors: SandboxDoors | undefined;
    if (options.doors && useSandbox) {
      // Before any link is onboarded: DescribeCluster then returns the served endpoint and CA.
      // The issuers' keys are made while the clusters' certificates are (both RSA, on the thread pool).
      const issuerKeys = sandbox.ensureIssuerKeys();
      const aws = await startAwsDoor(sandbox, options.doorClock ? { now: options.doorClock } : {});
      undo.unshift(() => aws.close());
      const kube = await startKubeApis(sandbox, {
        stsHost: aws.host,
        ...(options.doorClock ? { now: options.doorClock } : {}),
      });
      undo.unshift(() => kube.close());
      await issuerKeys;
      doors = { aws, kube };
    }
    const clients = new AwsClients({
      hubAccountId: options.hubAccountId ?? LOCAL_HUB_ACCOUNT_ID,
      hubRegion: LOCAL_HUB_REGION,
      dynamoDbEndpoint: dynamo.endpoint,
      ...(useSandbox
        ? {
            hubCredentials: sandbox.hubCredentials(),
            kubernetes: (target: KubernetesTarget, credentials: unknown) =>
              sandboxKubernetes(sandbox, target, credentials),
          }
        : {}),
      configureClient: (client, service) => {
        // One stack type for every client (the Roles Anywhere client is of an older SDK line).
        const stack = client.middlewareStack as { use(plugin: unknown): void };
        stack.use(haltPlugin(() => halted));
        if (service === 'dynamodb') return; // the embedded DynamoDB speaks the real protocol
        if (service === 'sfn') stack.use(localSfnPlugin(stepFunctions));
        else if (useSandbox) stack.use(sandboxPlugin(sandbox, service, client.config as any));
      },
    });
    undo.unshift(async () => {
      stepFunctions.abortAll();
      await stepFunctions.idle();
      clients.destroy();
    });
    const stores = tableStores(clients.dynamodb(), tableName);
    const links = stores.links;
    // Tether's OIDC bucket, in the hub account, as the hub stack makes it in AWS: self-managed
    // clusters' discovery documents are published there and read back anonymously, as IAM
    // and STS read them (docs/architecture.md#oidc-publishing-for-self-managed-clusters).
    const oidcPublishing = useSandbox
      ? {
          bucket: localOidcBucket(options.hubAccountId ?? LOCAL_HUB_ACCOUNT_ID),
          region: LOCAL_HUB_REGION,
          fetchPublic: async (url: string) => sandbox.anonymousGet(url),
        }
      : undefined;
    if (oidcPublishing) {
      // Deployed, not called: the sandbox's call log starts with the requests, as in AWS.
      sandbox.addBucket({
        accountId: options.hubAccountId ?? LOCAL_HUB_ACCOUNT_ID,
        name: oidcPublishing.bucket,
        region: oidcPublishing.region,
        publicAccessBlock: DISCOVERY_BUCKET_PUBLIC_ACCESS_BLOCK,
        policy: JSON.stringify(discoveryBucketPolicy(oidcPublishing.bucket)),
      });
    }
    const runtime: TetherRuntime = {
      clients,
      ...stores,
      ...(oidcPublishing ? { oidcPublishing } : {}),
      now: () => new Date(),
      access,
      stateMachines: {
        onboard: stepFunctions.stateMachineArn('onboard'),
        offboard: stepFunctions.stateMachineArn('offboard'),
        reconcile: stepFunctions.stateMachineArn('reconcile'),
      },
    };
    configureRuntime(runtime);
    const eventBus = natChangeBus(
      runtime,
      useSandbox && options.cloudTrailEvents !== false ? sandbox : undefined,
    );
    const sweep = (o?: SweepOptions) => sweepLinks(runtime, o);
    const sweeper = {
      sweep: () => sweep(),
      async outcomes(report: SweepReport) {
        for (const r of report.reconciles) await stepFunctions.waitFor(r.executionArn);
        const ids = report.reconciles.flatMap((r) => r.linkIds);
        return Promise.all(ids.map(async (id) => outcomeOf(await links.get(id))));
      },
    };
    // With the embedded sandbox only: its admin calls (local/adapters/sandbox-admin.ts) and the
    // sweep's beside the API. They are not authorized by the policies, so against real
    // accounts (`environment`) they are not served: the timer sweeps there.
    const server = await startHttpServer({
      handler: (useSandbox
        ? withSandboxAdmin(withSweepAdmin(apiHandler as any, sweeper), sandbox)
        : apiHandler) as any,
      // The operator is in the hub's account, whichever it is (`environment` mode names its own).
      callers: {
        operatorArn:
          options.operatorArn ??
          `arn:aws:iam::${options.hubAccountId ?? LOCAL_HUB_ACCOUNT_ID}:role/tether-operator`,
      },
      ...(options.host ? { host: options.host } : {}),
      port: options.port ?? 0,
    });
    undo.unshift(() => server.close());
    const redriven = options.redrive === false ? [] : await redriveUnfinished(runtime);
    // The schedule of the sweep, one at a time (a sweep still running skips its turn).
    let sweeping = false;
    const timer = options.sweepIntervalMs
      ? setInterval(() => {
          if (sweeping || halted) return;
          sweeping = true;
          sweep()
            .catch(() => undefined)
            .finally(() => {
              sweeping = false;
            });
        }, options.sweepIntervalMs)
      : undefined;
    timer?.unref();
    undo.unshift(() => clearInterval(timer));
    return {
      url: server.url,
      port: server.port,
      sandbox,
      stepFunctions,
      eventBus,
      clients,
      links,
      runtime,
      ...(doors ? { doors } : {}),
      proveLink: (id) => {
        if (!doors)
          throw new Error(
            'The proof with the real tools needs the doors (startLocalRuntime({ doors: true }))',
          );
        return proveLink({ sandbox, aws: doors.aws, links, ...(dataDir ? { dataDir } : {}) }, id);
      },
      sweep,
      redriven,
      notices: lock?.tookOver === undefined ? [] : [lock.tookOver],
      halt() {
        halted = true;
        stepFunctions.abortAll();
      },
      async close() {
        clearInterval(timer);
        await server.close();
        await doors?.kube.close();
        await doors?.aws.close();
        stepFunctions.abortAll();
        await stepFunctions.idle();
        clients.destroy();
        await dynamo.close();
        lock?.release();
      },
    };
  } catch (err) {
    for (const step of undo)
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
    throw err instanceof DataDirectoryDamagedError && dataDir ? err.startingOver(dataDir) : err;
  }
}
