/**
 * The sandbox's state: plain JSON (dates as ISO strings, bytes as base64) so it can be
 * written to `<dataDir>/sandbox.json` after every mutating call and read back on restart.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirectoryDamagedError, readJsonStore, writeFileAtomic } from '#local/data-dir-lock';

/** A tag as IAM, EC2, S3 (`Key`/`Value`) spell it. */
export interface TagState {
  Key: string;
  Value: string;
}

/** An IAM role. */
export interface RoleState {
  RoleName: string;
  RoleId: string;
  Arn: string;
  Path: string;
  Description?: string;
  CreateDate: string;
  MaxSessionDuration: number;
  /** The trust policy exactly as given (JSON text). */
  AssumeRolePolicyDocument: string;
  /**
   * Role ARNs named as `Principal.AWS` in the trust policy, mapped to the role id they had
   * when the policy was written: IAM stores the unique id, so a re-created role no longer
   * matches (docs/aws-facts.md#role-arns-in-trust-policies).
   */
  trustPrincipalIds: Record<string, string>;
  PermissionsBoundaryArn?: string;
  Tags: TagState[];
  /** Inline policies, name → JSON text. */
  inlinePolicies: Record<string, string>;
  attachedPolicyArns: string[];
  /** Value of the sandbox clock when the role was created (IAM eventual consistency). */
  createdAtCall: number;
}

/** An IAM OIDC identity provider. */
export interface OidcProviderState {
  Arn: string;
  /** Issuer URL without scheme, as GetOpenIDConnectProvider returns it. */
  Url: string;
  ClientIDList: string[];
  ThumbprintList: string[];
  CreateDate: string;
  Tags: TagState[];
}

/** An EKS access policy association. */
export interface AssociationState {
  policyArn: string;
  accessScope: { type: string; namespaces?: string[] };
  associatedAt: string;
  modifiedAt: string;
}

/** An EKS access entry. */
export interface AccessEntryState {
  principalArn: string;
  /** Role id of the principal when the entry was made (docs/aws-facts.md#access-entries-keep-the-role-id). */
  principalId?: string;
  accessEntryArn: string;
  kubernetesGroups: string[];
  username: string;
  type: string;
  createdAt: string;
  modifiedAt: string;
  tags: Record<string, string>;
  associations: AssociationState[];
}

/** A Kubernetes ConfigMap (only what aws-auth needs). */
export interface ConfigMapState {
  namespace: string;
  name: string;
  data: Record<string, string>;
  resourceVersion: string;
}

/** An EKS cluster. */
export interface ClusterState {
  name: string;
  arn: string;
  version: string;
  /** UPDATING while an update is in progress (UpdateClusterConfig), else ACTIVE. */
  status: 'ACTIVE' | 'UPDATING';
  createdAt: string;
  endpoint: string;
  certificateAuthorityData: string;
  oidcIssuer?: string;
  authenticationMode: 'API' | 'API_AND_CONFIG_MAP' | 'CONFIG_MAP';
  roleArn: string;
  vpcId: string;
  subnetIds: string[];
  clusterSecurityGroupId: string;
  securityGroupIds: string[];
  endpointPublicAccess: boolean;
  endpointPrivateAccess: boolean;
  publicAccessCidrs: string[];
  tags: Record<string, string>;
  accessEntries: Record<string, AccessEntryState>;
  configMaps: Record<string, ConfigMapState>;
  /** Monotonic counter for ConfigMap resourceVersions. */
  resourceVersionSeq: number;
  /** Updates made by UpdateClusterConfig, by id (DescribeUpdate). */
  updates: Record<string, ClusterUpdateState>;
  /**
   * The certificate authority of the cluster's Kubernetes API when the local runtime serves
   * it (local/adapters/kube-api.ts); `certificateAuthorityData` is then its certificate.
   */
  kubeApiCa?: ClusterCaState;
  /** EKS Pod Identity associations, by id (absent in worlds saved before they existed). */
  podIdentityAssociations?: Record<string, PodIdentityAssociationState>;
}

/** A cluster's serving CA: its key (PKCS#8, base64) and self-signed certificate (PEM). */
export interface ClusterCaState {
  keyPkcs8: string;
  certPem: string;
  /** The API server's certificate signed by the CA, kept so a restart need not make another. */
  serving?: { key: string; cert: string };
}

/** The signing key of a service-account token issuer (local/sandbox/oidc-issuers.ts). */
export interface IssuerKeyState {
  /** The JWKS `kid` of the key. */
  kid: string;
  /** The private key as a JWK (RS256). */
  privateJwk: Record<string, unknown>;
  createdAt: string;
}

/** One EKS Pod Identity association (local/sandbox/eks-pod-identity.ts). */
export interface PodIdentityAssociationState {
  associationId: string;
  associationArn: string;
  clusterName: string;
  namespace: string;
  serviceAccount: string;
  roleArn: string;
  targetRoleArn?: string;
  externalId?: string;
  disableSessionTags: boolean;
  policy?: string;
  tags: Record<string, string>;
  createdAt: string;
  modifiedAt: string;
  /** The sandbox call that made it (the clock of its eventual consistency); absent in older worlds. */
  createdAtCall?: number;
}

/** One EKS cluster update. */
export interface ClusterUpdateState {
  id: string;
  type: string;
  params: { type: string; value: string }[];
  createdAt: string;
  /** Absent on updates saved before the sandbox modelled their progress: Successful. */
  status?: 'InProgress' | 'Successful';
  /** Describe calls (DescribeUpdate, DescribeCluster) left before an InProgress update takes effect. */
  settleAfterDescribes?: number;
  /** The endpoint configuration the update applies when it succeeds. */
  apply?: { endpointPublicAccess: boolean; endpointPrivateAccess: boolean; publicAccessCidrs: string[] };
}

/** An EC2 VPC. */
export interface VpcState {
  VpcId: string;
  CidrBlock: string;
  Tags: TagState[];
}

/** An EC2 subnet. */
export interface SubnetState {
  SubnetId: string;
  VpcId: string;
  CidrBlock: string;
  AvailabilityZone: string;
  MapPublicIpOnLaunch: boolean;
  Tags: TagState[];
}

/** An Elastic IP address. */
export interface AddressState {
  AllocationId: string;
  PublicIp: string;
  AssociationId?: string;
  NetworkInterfaceId?: string;
  PrivateIpAddress?: string;
  /** The NAT gateway it is associated with, if any (not an AWS field). */
  natGatewayId?: string;
  Tags: TagState[];
}

/**
 * A NAT gateway address: an Elastic IP association (public NAT gateway), or a private IPv4
 * address alone (private NAT gateway: no AllocationId, PublicIp or AssociationId).
 */
export interface NatAddressState {
  AllocationId?: string;
  PublicIp?: string;
  AssociationId?: string;
  NetworkInterfaceId: string;
  PrivateIp: string;
  IsPrimary: boolean;
}

/** A NAT gateway. */
export interface NatGatewayState {
  NatGatewayId: string;
  VpcId: string;
  SubnetId: string;
  State: 'pending' | 'available' | 'deleting' | 'deleted';
  ConnectivityType: 'public' | 'private';
  CreateTime: string;
  DeleteTime?: string;
  addresses: NatAddressState[];
  Tags: TagState[];
  /** Describe calls left before a pending/deleting gateway settles (CreateNatGateway is async). */
  settleAfterDescribes: number;
  /** Idempotency token of CreateNatGateway. */
  clientToken?: string;
}

/** A security group rule (ingress or egress). */
export interface SecurityGroupRuleState {
  SecurityGroupRuleId: string;
  GroupId: string;
  IsEgress: boolean;
  IpProtocol: string;
  FromPort: number;
  ToPort: number;
  CidrIpv4?: string;
  CidrIpv6?: string;
  PrefixListId?: string;
  ReferencedGroupId?: string;
  Description?: string;
  Tags: TagState[];
}

/** A security group. */
export interface SecurityGroupState {
  GroupId: string;
  GroupName: string;
  Description: string;
  VpcId: string;
  Tags: TagState[];
}

/** A customer-managed prefix list. */
export interface PrefixListState {
  PrefixListId: string;
  PrefixListName: string;
  AddressFamily: string;
  MaxEntries: number;
  Version: number;
  State: string;
  Tags: TagState[];
  /** Entries of every version, so GetManagedPrefixListEntries can honour TargetVersion. */
  versions: Record<string, { Cidr: string; Description?: string }[]>;
}

/** EC2 in one account and region. */
export interface Ec2State {
  vpcs: Record<string, VpcState>;
  subnets: Record<string, SubnetState>;
  addresses: Record<string, AddressState>;
  natGateways: Record<string, NatGatewayState>;
  securityGroups: Record<string, SecurityGroupState>;
  securityGroupRules: Record<string, SecurityGroupRuleState>;
  prefixLists: Record<string, PrefixListState>;
}

/** One region of one account. */
export interface RegionState {
  eks: { clusters: Record<string, ClusterState> };
  ec2: Ec2State;
}

/** An S3 object. */
export interface ObjectState {
  bodyBase64: string;
  ContentType?: string;
  ETag: string;
  LastModified: string;
  Metadata?: Record<string, string>;
}

/** An S3 bucket. */
export interface BucketState {
  Name: string;
  Region: string;
  CreationDate: string;
  Tags: TagState[] | null;
  objects: Record<string, ObjectState>;
  /**
   * The bucket's Block Public Access settings; absent on buckets of an older state file,
   * which the sandbox treats as all four on (S3's default for new buckets since April 2023).
   */
  PublicAccessBlock?: PublicAccessBlockState;
  /** The bucket policy (JSON text), when one is set. */
  Policy?: string;
}

/** S3 Block Public Access, per bucket (S3 user guide, "Blocking public access to your Amazon S3 storage"). */
export interface PublicAccessBlockState {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

/** One AWS account. */
export interface AccountState {
  id: string;
  iam: {
    /** Keyed by lower-case role name: IAM role names are unique regardless of case. */
    roles: Record<string, RoleState>;
    oidcProviders: Record<string, OidcProviderState>;
  };
  regions: Record<string, RegionState>;
  s3: { buckets: Record<string, BucketState> };
  /**
   * Service Quotas applied values that differ from the AWS default, keyed
   * `<region or '' for a global quota>|<service code>|<quota code>` (local/sandbox/service-quotas.ts).
   */
  serviceQuotas?: Record<string, number>;
}

/** Credentials the sandbox issued, keyed by access key id. */
export interface CredentialState {
  secretAccessKey: string;
  sessionToken?: string;
  accountId: string;
  kind: 'root' | 'role-session';
  roleName?: string;
  roleArn?: string;
  roleId?: string;
  sessionName?: string;
  /** The session's `SourceIdentity` (set by AssumeRole, kept through role chaining). */
  sourceIdentity?: string;
  /** ISO time; absent for the static hub and root credentials. */
  expiration?: string;
  /** True for a session made by a role (role chaining caps it at one hour). */
  chained?: boolean;
  /** The session's tags (AssumeRole `Tags`, or the ones EKS Pod Identity sets): `aws:PrincipalTag/…`. */
  sessionTags?: Record<string, string>;
  /** The keys of {@link sessionTags} that pass to the next session of a role chain. */
  transitiveTagKeys?: string[];
}

/** The whole sandbox. */
export interface SandboxState {
  version: 1;
  /** Counter behind every generated id, so ids are deterministic. */
  seq: number;
  /** Number of invoke calls ever made (persisted): the clock of IAM eventual consistency. */
  clock: number;
  accounts: Record<string, AccountState>;
  credentials: Record<string, CredentialState>;
  /**
   * Signing keys of the OIDC issuers the sandbox hosts, by issuer URL: EKS holds one per
   * cluster and signs its projected service-account tokens with it. Made on first use.
   */
  issuerKeys?: Record<string, IssuerKeyState>;
}

/** File name of the persisted state inside the data directory. */
export const STATE_FILE = 'sandbox.json';

/** An empty state. */
export function emptyState(): SandboxState {
  return { version: 1, seq: 0, clock: 0, accounts: {}, credentials: {} };
}

/** An empty account. */
export function emptyAccount(id: string): AccountState {
  return { id, iam: { roles: {}, oidcProviders: {} }, regions: {}, s3: { buckets: {} } };
}

/** The region state of an account, created on first use (every region exists in AWS). */
export function regionOf(account: AccountState, region: string): RegionState {
  let r = account.regions[region];
  if (!r) {
    r = {
      eks: { clusters: {} },
      ec2: {
        vpcs: {},
        subnets: {},
        addresses: {},
        natGateways: {},
        securityGroups: {},
        securityGroupRules: {},
        prefixLists: {},
      },
    };
    account.regions[region] = r;
  }
  return r;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads `<dataDir>/sandbox.json`, or undefined if there is none. A file that is not the
 * sandbox's state (truncated, corrupt, or of another version) is a
 * {@link DataDirectoryDamagedError} naming it, never a world seeded again over it.
 */
export function loadState(dataDir: string): SandboxState | undefined {
  const file = join(dataDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  // A temporary file of a write a crash cut short: the state file itself is whole.
  for (const name of readdirSync(dataDir)) {
    if (name.startsWith(`${STATE_FILE}.`) && name.endsWith('.tmp'))
      rmSync(join(dataDir, name), { force: true });
  }
  const what = 'The sandbox state';
  const remedy = 'Restore it from a backup';
  const parsed = readJsonStore(file, what, remedy) as Partial<SandboxState> | null;
  if (!isRecord(parsed))
    throw new DataDirectoryDamagedError({ what, file, problem: 'is not a sandbox state', remedy });
  if (parsed.version !== 1)
    throw new DataDirectoryDamagedError({
      what,
      file,
      problem: `has version ${JSON.stringify(parsed.version ?? null)}, which this version of Tether cannot read`,
      remedy,
    });
  if (!isRecord(parsed.accounts) || !isRecord(parsed.credentials))
    throw new DataDirectoryDamagedError({ what, file, problem: 'is not a whole sandbox state', remedy });
  return parsed as SandboxState;
}

/**
 * Writes the state atomically: a temporary file, flushed, then a rename, synchronously, so
 * a crash (or a power cut) at any point leaves either the old or the new file, never a torn
 * one.
 */
export function saveState(dataDir: string, state: SandboxState): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileAtomic(join(dataDir, STATE_FILE), JSON.stringify(state));
}

/**
 * A deep copy of state (plain JSON: objects, arrays, strings, numbers, booleans, null), what
 * `structuredClone` would give for it, several times faster: a mutating call copies the part
 * of the state it may change before every call (`sandbox.ts`, `draftOf`), so this cost is paid
 * per call and grows with what that part holds (thousands of access entries or associations
 * in a cluster). Anything that is not plain JSON (a Date, bytes) is left to `structuredClone`.
 *
 * @example
 * const draft = copyState(account.iam); // change draft; account.iam is untouched
 */
export function copyState<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i]);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = copy((value as Record<string, unknown>)[key]);
    // A key taken from a request (a tag key, say) may be `__proto__`: an own property, as in the original.
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** Hex SHA-256 of `text`. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `n` upper-case base32 characters derived from `seed` (for AROA…/ASIA… style ids). */
export function base32Of(seed: string, n: number): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; out.length < n; i++) out += BASE32[(bytes[i % bytes.length] ?? 0) % 32];
  return out;
}
