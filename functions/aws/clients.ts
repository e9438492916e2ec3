/**
 * The one client factory. Every AWS call Tether makes gets its client
 * here, created once per account and region with credentials from the member account's
 * agent role. The local runtime plugs the sandbox in under these same SDK clients through
 * {@link AwsClientsOptions.configureClient}; `AWS_ENDPOINT_URL` points them elsewhere
 * (moto, another emulator) without code changes.
 *
 * {@link AwsClients.forSession} gives the clients of one audited session: the agent role is
 * assumed with the session's name (the link and its run) and `SourceIdentity` (the caller),
 * so each member account's CloudTrail ties every change to a link and a person
 * (docs/architecture.md#who-may-link-what).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { IAMClient } from '@aws-sdk/client-iam';
import { RolesAnywhereClient } from '@aws-sdk/client-rolesanywhere';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, MiddlewareStack } from '@smithy/types';
import { AccountNotReachableError } from '#link/errors';
import { classifyAwsError, isAwsError, recordCallSite } from '#aws/errors';
import { httpsKubernetesApi, type KubernetesApi, type KubernetesTarget } from './kubernetes';

/** The services Tether calls, by the name the sandbox and call counts use. */
export type AwsServiceName =
  | 'iam'
  | 'sts'
  | 'eks'
  | 'ec2'
  | 's3'
  | 'servicequotas'
  | 'sfn'
  | 'dynamodb'
  | 'rolesanywhere';

type AnyClient =
  | IAMClient
  | STSClient
  | EKSClient
  | EC2Client
  | S3Client
  | ServiceQuotasClient
  | SFNClient
  | DynamoDBClient
  | RolesAnywhereClient;

export interface AwsClientsOptions {
  /** The hub's own account; calls into it use the hub credentials directly. */
  readonly hubAccountId: string;
  /** Region of the hub (table, state machines). */
  readonly hubRegion: string;
  /** Name of the agent role in each member account. @default 'tether-agent' */
  readonly agentRoleName?: string;
  /** Path of the agent role. @default '/tether/' */
  readonly agentRolePath?: string;
  /**
   * Name of the permissions boundary every role Tether makes carries, a managed policy the
   * member-account stack makes under the agent role's path. @default 'tether-boundary'
   */
  readonly permissionsBoundaryName?: string;
  /** Credentials of the hub (the Lambda's role). @default the SDK's provider chain */
  readonly hubCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Called on every new client: the local runtime adds the sandbox plug-in here. */
  readonly configureClient?: (client: AnyClient, service: AwsServiceName) => void;
  /** Makes the Kubernetes API client of a cluster. @default HTTPS to the cluster endpoint with an EKS token */
  readonly kubernetes?: (
    target: KubernetesTarget,
    credentials: AwsCredentialIdentityProvider | AwsCredentialIdentity | undefined,
  ) => KubernetesApi;
  /** Endpoint of the hub's DynamoDB (the embedded emulator locally). */
  readonly dynamoDbEndpoint?: string;
}

/** What the member accounts' CloudTrail records of the calls made through a session's clients. */
export interface CallSession {
  /** The role session name (2–64 of `[\w+=,.@-]`): `tether-<link id>-<run>` for a link's run. */
  readonly sessionName: string;
  /** The `SourceIdentity` of the session: who asked (`#link/caller` `sourceIdentityOf`). */
  readonly sourceIdentity?: string;
}

/** Sessions whose clients are kept at once; the oldest go first. */
const MAX_SESSIONS = 256;
/** Agent-role sessions of a link last 15 minutes (STS's least), refreshed before they end. */
const SESSION_SECONDS = 900;

/**
 * Records on every error a member-account client throws which call it was (service,
 * operation, account, region), so the step can name the action a refusal concerns
 * (`classifyAwsError`). Outermost in the stack: it sees the error whatever answered.
 */
function recordCallSites(
  client: AnyClient,
  service: AwsServiceName,
  accountId: string,
  region: string,
): void {
  (client.middlewareStack as MiddlewareStack<any, any>).add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const operation = String(context.commandName ?? '').replace(/Command$/, '');
        recordCallSite(err, { service, operation, accountId, region });
        throw err;
      }
    },
    { step: 'initialize', name: 'tetherCallSite', priority: 'high' },
  );
}

/** The hub's own services: the only ones called with the hub's credentials. */
const HUB_SERVICES: ReadonlySet<AwsServiceName> = new Set(['sfn', 'dynamodb']);

/** IAM is global: its clients use this region. */
const IAM_REGION = 'us-east-1';
/** Refresh assumed credentials this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Clients for the hub and for every member account, cached per account and region.
 *
 * @example
 * const clients = new AwsClients({ hubAccountId: '000000000000', hubRegion: 'ap-southeast-1' });
 * await clients.iam('111111111111').send(new GetRoleCommand({ RoleName: 'x' }));
 */
export class AwsClients {
  readonly hubAccountId: string;
  readonly hubRegion: string;
  readonly agentRoleName: string;
  readonly agentRolePath: string;
  /** The audited session these clients call member accounts in; undefined for the hub's default ones. */
  readonly session: CallSession | undefined;
  readonly permissionsBoundaryName: string;
  readonly #options: AwsClientsOptions;
  readonly #clients = new Map<string, AnyClient>();
  readonly #credentials = new Map<string, AwsCredentialIdentityProvider>();
  /** The factory this one was made from by {@link forSession}; its hub clients are shared. */
  readonly #root: AwsClients | undefined;
  /** Session factories made from this root, oldest first. */
  readonly #sessions = new Map<string, AwsClients>();

  constructor(options: AwsClientsOptions, session?: { root: AwsClients; session: CallSession }) {
    this.#options = options;
    this.hubAccountId = options.hubAccountId;
    this.hubRegion = options.hubRegion;
    this.agentRoleName = options.agentRoleName ?? 'tether-agent';
    this.agentRolePath = options.agentRolePath ?? '/tether/';
    this.permissionsBoundaryName = options.permissionsBoundaryName ?? 'tether-boundary';
    this.#root = session?.root;
    this.session = session?.session;
  }

  /**
   * The clients of one audited session: every member-account call they make runs in an
   * agent-role session of that name, with that `SourceIdentity`. The hub's own clients
   * (Step Functions, DynamoDB) are shared. Made once per session and kept for the next
   * calls (at most {@link MAX_SESSIONS}).
   *
   * @example
   * const clients = rt.clients.forSession({ sessionName: linkSessionName(link.id, run), sourceIdentity: 'alice' });
   * await clients.iam('111111111111').send(new GetRoleCommand({ RoleName: 'x' }));
   */
  forSession(session: CallSession): AwsClients {
    if (this.#root) return this.#root.forSession(session);
    const key = `${session.sessionName}|${session.sourceIdentity ?? ''}`;
    const cached = this.#sessions.get(key);
    if (cached) {
      // Most recently used last.
      this.#sessions.delete(key);
      this.#sessions.set(key, cached);
      return cached;
    }
    const made = new AwsClients(this.#options, { root: this, session });
    this.#sessions.set(key, made);
    for (const [oldest, clients] of this.#sessions) {
      if (this.#sessions.size <= MAX_SESSIONS) break;
      this.#sessions.delete(oldest);
      clients.destroy();
    }
    return made;
  }

  /** ARN of the agent role the hub assumes in a member account. */
  agentRoleArn(accountId: string): string {
    return `arn:aws:iam::${accountId}:role${this.agentRolePath}${this.agentRoleName}`;
  }

  /** ARN of the permissions boundary in an account: every role Tether makes there must carry it. */
  permissionsBoundaryArn(accountId: string): string {
    return `arn:aws:iam::${accountId}:policy${this.agentRolePath}${this.permissionsBoundaryName}`;
  }

  iam(accountId: string): IAMClient {
    return this.#client('iam', accountId, IAM_REGION, (c) => new IAMClient(c));
  }

  eks(accountId: string, region: string): EKSClient {
    return this.#client('eks', accountId, region, (c) => new EKSClient(c));
  }

  ec2(accountId: string, region: string): EC2Client {
    return this.#client('ec2', accountId, region, (c) => new EC2Client(c));
  }

  /** IAM Roles Anywhere of a member account's Region (mode `roles-anywhere`). */
  rolesAnywhere(accountId: string, region: string): RolesAnywhereClient {
    return this.#client('rolesanywhere', accountId, region, (c) => new RolesAnywhereClient(c));
  }

  s3(accountId: string, region: string): S3Client {
    return this.#client('s3', accountId, region, (c) => new S3Client({ ...c, forcePathStyle: true }));
  }

  /** Service Quotas of a member account (the applied values of adjustable quotas). */
  serviceQuotas(accountId: string, region: string): ServiceQuotasClient {
    return this.#client('servicequotas', accountId, region, (c) => new ServiceQuotasClient(c));
  }

  /** The Kubernetes API of a cluster, as the agent role of its account. */
  kubernetes(target: KubernetesTarget): KubernetesApi {
    const credentials = this.#credentialsFor(target.accountId);
    if (this.#options.kubernetes) return this.#options.kubernetes(target, credentials);
    if (!credentials) throw new Error('No credentials for the Kubernetes API');
    return httpsKubernetesApi(target, credentials);
  }

  /** Step Functions of the hub. */
  sfn(): SFNClient {
    if (this.#root) return this.#root.sfn();
    return this.#client('sfn', this.hubAccountId, this.hubRegion, (c) => new SFNClient(c));
  }

  /** DynamoDB of the hub, as a document client. */
  dynamodb(): DynamoDBDocumentClient {
    if (this.#root) return this.#root.dynamodb();
    const key = `dynamodb-doc|${this.hubAccountId}|${this.hubRegion}`;
    const cached = this.#clients.get(key);
    if (cached) return cached as unknown as DynamoDBDocumentClient;
    const endpoint = this.#options.dynamoDbEndpoint;
    // The hub's own table: the SDK retries it (a transient failure here is not a member account's).
    const base = this.#client('dynamodb', this.hubAccountId, this.hubRegion, (c) =>
      endpoint
        ? new DynamoDBClient({ ...c, maxAttempts: 4, endpoint })
        : new DynamoDBClient({ ...c, maxAttempts: 4 }),
    );
    const doc = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
    this.#clients.set(key, doc as unknown as AnyClient);
    return doc;
  }

  /**
   * S3 of the hub's own buckets (Tether's OIDC bucket, where self-managed clusters' discovery
   * documents are published), with the hub's credentials, like its table: the bucket is the
   * hub's, not a member account's, so no agent role is assumed.
   */
  hubS3(region: string = this.hubRegion): S3Client {
    if (this.#root) return this.#root.hubS3(region);
    const key = `s3-hub|${this.hubAccountId}|${region}`;
    const cached = this.#clients.get(key);
    if (cached) return cached as S3Client;
    const client = new S3Client({
      region,
      credentials: this.#options.hubCredentials,
      maxAttempts: 3,
      forcePathStyle: true,
    });
    this.#options.configureClient?.(client, 's3');
    this.#clients.set(key, client);
    return client;
  }

  /** Releases the sockets of every client made so far (and of every session's clients). */
  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
    this.#credentials.clear();
    for (const session of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }

  #client<C extends AnyClient>(
    service: AwsServiceName,
    accountId: string,
    region: string,
    make: (config: {
      region: string;
      credentials: AwsCredentialIdentityProvider | AwsCredentialIdentity | undefined;
      maxAttempts: number;
    }) => C,
  ): C {
    const key = `${service}|${accountId}|${region}`;
    const cached = this.#clients.get(key);
    if (cached) return cached as C;
    // The ASL owns retries (with backoff visible in the execution history), so the SDK
    // makes one attempt: a throttled call fails fast into the state machine's Retry.
    // The hub's own services (its table, its state machines) use the hub's credentials; every
    // other service, in any account — the hub's own included — goes through the agent role.
    const credentials = HUB_SERVICES.has(service)
      ? this.#options.hubCredentials
      : this.#credentialsFor(accountId);
    const client = make({ region, credentials, maxAttempts: 1 });
    if (!HUB_SERVICES.has(service)) recordCallSites(client, service, accountId, region);
    this.#options.configureClient?.(client, service);
    this.#clients.set(key, client);
    return client;
  }

  #hubSts(): STSClient {
    if (this.#root) return this.#root.#hubSts();
    const key = `sts|hub|${this.hubRegion}`;
    const cached = this.#clients.get(key);
    if (cached) return cached as STSClient;
    const client = new STSClient({
      region: this.hubRegion,
      credentials: this.#options.hubCredentials,
      maxAttempts: 3,
    });
    this.#options.configureClient?.(client, 'sts');
    this.#clients.set(key, client);
    return client;
  }

  #credentialsFor(accountId: string): AwsCredentialIdentityProvider | AwsCredentialIdentity | undefined {
    const cached = this.#credentials.get(accountId);
    if (cached) return cached;
    const provider = this.#assumeAgentRole(accountId);
    this.#credentials.set(accountId, provider);
    return provider;
  }

  /** A memoised provider that assumes the agent role and refreshes before expiry. */
  #assumeAgentRole(accountId: string): AwsCredentialIdentityProvider {
    let current: Promise<AwsCredentialIdentity> | undefined;
    const roleArn = this.agentRoleArn(accountId);
    const session = this.session;
    const assume = async (): Promise<AwsCredentialIdentity> => {
      try {
        const out = await this.#hubSts().send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: session?.sessionName ?? `tether-${accountId}`,
            // The agent role's trust must allow sts:SetSourceIdentity (docs/aws-facts.md#sts-source-identity).
            ...(session?.sourceIdentity ? { SourceIdentity: session.sourceIdentity } : {}),
            DurationSeconds: session ? SESSION_SECONDS : 3600,
          }),
        );
        const c = out.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
        return {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
          ...(c.Expiration ? { expiration: c.Expiration } : {}),
        };
      } catch (err) {
        current = undefined;
        if (isAwsError(err, 'AccessDenied', 'NoSuchEntity')) {
          throw new AccountNotReachableError(
            `Tether cannot assume ${roleArn}: deploy the member-account stack in ${accountId} (${(err as Error).message})`,
            { cause: err },
          );
        }
        throw classifyAwsError(err);
      }
    };
    let refreshAt = Number.POSITIVE_INFINITY;
    return () => {
      // One AssumeRole in flight per account, shared by every concurrent caller.
      if (current === undefined || Date.now() >= refreshAt) {
        refreshAt = Number.POSITIVE_INFINITY;
        current = assume().then((c) => {
          refreshAt = c.expiration ? c.expiration.getTime() - REFRESH_MARGIN_MS : Number.POSITIVE_INFINITY;
          return c;
        });
      }
      return current;
    };
  }
}
