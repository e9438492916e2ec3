/**
 * The deployment's configuration: one typed object, read from a JSON file
 * (`tether.config.json` at the repository root, or the file named by the CDK context key
 * `tetherConfig`), with CDK context values (`-c tether.<key>=…`) on top. Every key has a
 * default, so `npx cdk synth` works on a fresh clone with no AWS account: the defaults are
 * the example of `infra/tether.config.example.json`.
 *
 * @example
 * const config = loadConfig(app.node.tryGetContext.bind(app.node));
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_TABLE_NAME } from '#store/table';
import { TETHER_ROLE_PATH } from '#link/names';

/** The EKS access policies AWS offers to people and workloads (docs/aws-facts.md, "EKS"). */
export const EKS_ACCESS_POLICY_NAMES = [
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSViewPolicy',
  'AmazonEKSAdminViewPolicy',
  'AmazonEKSSecretReaderPolicy',
] as const;
export type EksAccessPolicyName = (typeof EKS_ACCESS_POLICY_NAMES)[number];

export interface TetherConfig {
  /** The hub: where the API, the workflows and the table live. */
  readonly hub: { readonly account: string; readonly region: string };
  /**
   * The AWS Organization of the member accounts. With it the agent role is assumable only
   * from inside the organization (`aws:PrincipalOrgID`), the hub bus admits the whole
   * organization, and the member stack deploys as a service-managed StackSet to
   * `organizationalUnitIds`.
   * @default none: `memberAccounts` must list the member accounts
   */
  readonly organization?: {
    readonly id: string;
    readonly organizationalUnitIds: readonly string[];
    /** Who creates the StackSet: the management account (`SELF`) or a delegated administrator. @default 'SELF' */
    readonly stackSetCallAs?: 'SELF' | 'DELEGATED_ADMIN';
  };
  /** Member accounts the hub bus admits when there is no organization (and in addition to it). @default [] */
  readonly memberAccounts: readonly string[];
  /** Regions whose NAT gateway changes reach the hub (the forwarding rule is regional). @default [hub.region] */
  readonly memberRegions: readonly string[];
  /** The DynamoDB table's name. @default 'tether' */
  readonly tableName: string;
  /** How long logs (functions, state machines, API access logs) are kept, in days. @default 30 */
  readonly logRetentionDays: number;
  /**
   * The EKS access policies links may ask for; the agent role can associate no other
   * (`eks:policyArn`). @default every policy but AmazonEKSClusterAdminPolicy
   */
  readonly allowedAccessPolicies: readonly EksAccessPolicyName[];
  /** Name of the agent role in every member account (and in the hub). @default 'tether-agent' */
  readonly agentRoleName: string;
  /** Name of the permissions boundary every role Tether makes must carry. @default 'tether-boundary' */
  readonly permissionsBoundaryName: string;
  /** Path of the roles Tether makes, of the agent role and of the boundary. Fixed: `functions/link/names.ts`. */
  readonly rolePath: string;
  /** Where alarms are sent (an SNS e-mail subscription). @default none: the topic has no subscriber */
  readonly alarmEmail?: string;
}

/** The defaults: a placeholder hub account, so that synth needs no AWS account. */
export const DEFAULT_CONFIG: TetherConfig = {
  hub: { account: '000000000000', region: 'ap-southeast-1' },
  memberAccounts: [],
  memberRegions: [],
  tableName: DEFAULT_TABLE_NAME,
  logRetentionDays: 30,
  allowedAccessPolicies: EKS_ACCESS_POLICY_NAMES.filter((n) => n !== 'AmazonEKSClusterAdminPolicy'),
  agentRoleName: 'tether-agent',
  permissionsBoundaryName: 'tether-boundary',
  rolePath: TETHER_ROLE_PATH,
};

/** The CloudWatch Logs retention values AWS accepts. */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export class ConfigError extends Error {
  constructor(message: string) {
    super(`Tether configuration: ${message}`);
    this.name = 'ConfigError';
  }
}

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Checks a configuration and fills the derived defaults (member regions). */
export function validateConfig(config: TetherConfig): TetherConfig {
  const fail = (message: string): never => {
    throw new ConfigError(message);
  };
  if (!ACCOUNT.test(config.hub.account)) fail(`hub.account must be 12 digits, not "${config.hub.account}"`);
  if (!REGION.test(config.hub.region)) fail(`hub.region is not a region: "${config.hub.region}"`);
  for (const a of config.memberAccounts)
    if (!ACCOUNT.test(a)) fail(`memberAccounts: "${a}" is not 12 digits`);
  if (config.organization) {
    if (!/^o-[a-z0-9]{10,32}$/.test(config.organization.id))
      fail(`organization.id must look like o-xxxxxxxxxx, not "${config.organization.id}"`);
    for (const ou of config.organization.organizationalUnitIds)
      if (!/^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$/.test(ou))
        fail(`organization.organizationalUnitIds: "${ou}" is not an OU or root id`);
  }
  const regions = config.memberRegions.length ? config.memberRegions : [config.hub.region];
  for (const r of regions) if (!REGION.test(r)) fail(`memberRegions: "${r}" is not a region`);
  if (!RETENTION_DAYS.includes(config.logRetentionDays))
    fail(`logRetentionDays must be one of ${RETENTION_DAYS.join(', ')}`);
  for (const p of config.allowedAccessPolicies)
    if (!(EKS_ACCESS_POLICY_NAMES as readonly string[]).includes(p))
      fail(`allowedAccessPolicies: "${p}" is not an EKS access policy for people and workloads`);
  if (config.allowedAccessPolicies.length === 0) fail('allowedAccessPolicies is empty');
  if (!/^[\w+=,.@-]{1,64}$/.test(config.agentRoleName)) fail('agentRoleName is not an IAM role name');
  if (!/^[\w+=,.@-]{1,128}$/.test(config.permissionsBoundaryName))
    fail('permissionsBoundaryName is not an IAM policy name');
  if (config.rolePath !== TETHER_ROLE_PATH)
    fail(`rolePath is fixed at ${TETHER_ROLE_PATH} (functions/link/names.ts)`);
  if (!/^[\w-]{3,255}$/.test(config.tableName)) fail('tableName is not a DynamoDB table name');
  return { ...config, memberRegions: regions };
}

type Context = (key: string) => unknown;

function fromContext(context: Context): Partial<TetherConfig> {
  const value = context('tether');
  if (value === undefined) return {};
  if (typeof value === 'string') return JSON.parse(value) as Partial<TetherConfig>;
  return value as Partial<TetherConfig>;
}

/**
 * The configuration: defaults, then the file (`tetherConfig` context key, else
 * `tether.config.json` if present), then the `tether` context object.
 */
export function loadConfig(context: Context = () => undefined, root = process.cwd()): TetherConfig {
  const named = context('tetherConfig');
  const path = resolve(root, typeof named === 'string' ? named : 'tether.config.json');
  if (typeof named === 'string' && !existsSync(path)) throw new ConfigError(`no file ${path}`);
  const file = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Partial<TetherConfig>) : {};
  const ctx = fromContext(context);
  const merged: TetherConfig = {
    ...DEFAULT_CONFIG,
    ...file,
    ...ctx,
    hub: { ...DEFAULT_CONFIG.hub, ...file.hub, ...ctx.hub },
  };
  return validateConfig(merged);
}

/** The ARN of an EKS access policy. */
export function accessPolicyArn(name: EksAccessPolicyName, partition = 'aws'): string {
  return `arn:${partition}:eks::aws:cluster-access-policy/${name}`;
}
