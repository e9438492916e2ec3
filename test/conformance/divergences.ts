/**
 * Every known difference between the sandbox and moto on the calls Tether makes, with
 * what AWS does and where AWS says so. The conformance suite asserts that each difference
 * it finds is listed here with exactly these values, and that each `compared` entry is
 * still found, so this table stays true. Values are normalised observations (see
 * `compare.ts`): `"text"` for strings, `<Date>` for dates, `Name fault status` for errors.
 */

export type Verdict = 'sandbox follows AWS' | 'moto follows AWS' | 'unknown';

export interface Divergence {
  readonly service: string;
  readonly operation: string;
  /** The step of the sequence, when the same field differs differently elsewhere. */
  readonly step?: string;
  /** The output field (dotted path) or `outcome` (success or the error's name/fault/status). */
  readonly field: string;
  readonly sandbox: string;
  readonly moto: string;
  /** What AWS does. */
  readonly aws: string;
  /** AWS documentation URL or docs/aws-facts.md section. */
  readonly reference: string;
  readonly verdict: Verdict;
  /**
   * `compared`: a sequence of the suite meets it and asserts it. `documented`: a known
   * moto gap no sequence compares (say why in `aws`).
   */
  readonly check: 'compared' | 'documented';
}

const IAM_QUOTAS = 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html';
const IAM_API = 'https://docs.aws.amazon.com/IAM/latest/APIReference/';
const STS_ASSUME = 'https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html';
const EKS_API = 'https://docs.aws.amazon.com/eks/latest/APIReference/';
const EC2_API = 'https://docs.aws.amazon.com/AWSEC2/latest/APIReference/';

const S3_CREATE_BUCKET = 'https://docs.aws.amazon.com/cli/latest/reference/s3api/create-bucket.html';
const EKS_CLUSTER = `${EKS_API}API_Cluster.html`;
const PREFIX_LISTS = 'https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html';
const NO_ACCESS_ENTRIES =
  'moto 5.2 has no EKS access-entry API: its server answers 404 with a non-JSON body, which the SDK fails to parse';

/** A divergence a sequence compares. */
function compared(
  service: string,
  operation: string,
  step: string | undefined,
  field: string,
  values: { sandbox: string; moto: string },
  aws: string,
  reference: string,
  verdict: Verdict,
): Divergence {
  return {
    service,
    operation,
    ...(step ? { step } : {}),
    field,
    ...values,
    aws,
    reference,
    verdict,
    check: 'compared',
  };
}

const accessEntryGap = (operation: string, step: string) =>
  compared(
    'eks',
    operation,
    step,
    'outcome',
    { sandbox: 'ok', moto: 'SyntaxError ? 404' },
    `${operation} succeeds on a cluster whose authenticationMode allows the API. ${NO_ACCESS_ENTRIES}.`,
    `${EKS_API}API_${operation}.html`,
    'sandbox follows AWS',
  );

export const DIVERGENCES: readonly Divergence[] = [
  // ---- IAM
  compared(
    'iam',
    'CreateRole',
    'create role',
    'Role.MaxSessionDuration',
    { sandbox: '<absent>', moto: '3600' },
    'The Role data type has MaxSessionDuration; the CreateRole example in the API reference shows no MaxSessionDuration and no page says whether CreateRole returns it (GetRole does). Tether does not read it from CreateRole.',
    `${IAM_API}API_CreateRole.html`,
    'unknown',
  ),
  compared(
    'iam',
    'GetRolePolicy',
    'get inline policy',
    'encoding',
    { sandbox: '"URL-encoded"', moto: '"other"' },
    'PolicyDocument is "URL-encoded compliant with RFC 3986"; both decode to the same JSON, but moto answers neither the RFC 3986 encoding of the document nor the document as sent.',
    `${IAM_API}API_GetRolePolicy.html`,
    'sandbox follows AWS',
  ),
  compared(
    'iam',
    'CreateRole',
    'create role with a 2,200-character trust policy',
    'outcome',
    { sandbox: 'LimitExceededException client 409', moto: 'ok' },
    'A trust policy over 2,048 characters (default quota) fails with LimitExceeded ("Cannot exceed quota for ACLSizePerRole"); moto has no trust-policy size limit.',
    `${IAM_QUOTAS} (docs/aws-facts.md#iam)`,
    'sandbox follows AWS',
  ),
  compared(
    'iam',
    'CreateOpenIDConnectProvider',
    'create provider',
    'Tags.0.Key',
    { sandbox: '"tether:owner"', moto: '<absent>' },
    'The response has the Tags attached to the new provider.',
    `${IAM_API}API_CreateOpenIDConnectProvider.html`,
    'sandbox follows AWS',
  ),
  compared(
    'iam',
    'CreateOpenIDConnectProvider',
    'create provider',
    'Tags.0.Value',
    { sandbox: '"tether"', moto: '<absent>' },
    'The response has the Tags attached to the new provider.',
    `${IAM_API}API_CreateOpenIDConnectProvider.html`,
    'sandbox follows AWS',
  ),
  compared(
    'iam',
    'AddClientIDToOpenIDConnectProvider',
    'add client id',
    'outcome',
    { sandbox: 'ok', moto: 'Error ? 500' },
    'Adds the client id (no-op if present) and answers an empty 200; moto 5.2.1 does not implement the action (its IAM responses have no handler for it) and answers HTTP 500.',
    `${IAM_API}API_AddClientIDToOpenIDConnectProvider.html`,
    'sandbox follows AWS',
  ),
  compared(
    'iam',
    'GetOpenIDConnectProvider',
    'get provider after adding a client id',
    'ClientIDList.1',
    { sandbox: '"tether"', moto: '<absent>' },
    'The added client id is listed (follows from the AddClientIDToOpenIDConnectProvider failure on moto).',
    `${IAM_API}API_GetOpenIDConnectProvider.html`,
    'sandbox follows AWS',
  ),
  // ---- STS
  compared(
    'sts',
    'AssumeRole',
    'assume a role whose trust does not name the caller',
    'outcome',
    { sandbox: 'AccessDenied client 403', moto: 'ok' },
    'AssumeRole is refused with AccessDenied (403) unless the role trust policy allows the caller (and, cross-account, the caller identity policy allows sts:AssumeRole); moto evaluates no trust policy.',
    `${STS_ASSUME}; https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html`,
    'sandbox follows AWS',
  ),
  compared(
    'sts',
    'AssumeRole',
    'assume a missing role',
    'outcome',
    { sandbox: 'AccessDenied client 403', moto: 'ok' },
    'Assuming a role that does not exist is refused with AccessDenied; moto issues credentials for any role ARN ("the role does not need to exist").',
    STS_ASSUME,
    'sandbox follows AWS',
  ),
  // ---- EC2
  compared(
    'ec2',
    'CreateNatGateway',
    'create a NAT gateway',
    'ConnectivityType',
    { sandbox: '"public"', moto: '<absent>' },
    'The NatGateway in the response has ConnectivityType ("public" by default).',
    `${EC2_API}API_CreateNatGateway.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'CreateManagedPrefixList',
    'create a prefix list',
    'State',
    { sandbox: '"create-in-progress"', moto: '"create-complete"' },
    'CreateManagedPrefixList answers State "create-in-progress" (the API example); the list settles later.',
    `${EC2_API}API_CreateManagedPrefixList.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'ModifyManagedPrefixList',
    'modify the prefix list at a stale version',
    'outcome',
    { sandbox: 'PrefixListVersionMismatch client 400', moto: 'ok' },
    'A CurrentVersion that is not the current version fails with PrefixListVersionMismatch; moto ignores CurrentVersion.',
    `${EC2_API}API_ModifyManagedPrefixList.html; ${PREFIX_LISTS} (docs/aws-facts.md#ec2-and-vpc)`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'DescribeManagedPrefixLists',
    'describe the prefix list',
    'PrefixListName',
    { sandbox: '"tether-conf"', moto: '<absent>' },
    'The ManagedPrefixList data type has PrefixListName.',
    `${EC2_API}API_ManagedPrefixList.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'DescribeManagedPrefixLists',
    'describe the prefix list',
    'Version',
    { sandbox: '2', moto: '3' },
    'Version 2: the stale modify was refused (follows from PrefixListVersionMismatch).',
    `${EC2_API}API_ModifyManagedPrefixList.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'GetManagedPrefixListEntries',
    'get prefix list entries after modify',
    '1.Cidr',
    { sandbox: '"203.0.113.11/32"', moto: '"203.0.113.12/32"' },
    'The refused stale modify added nothing; moto applied it on top of version 1, dropping the entry the first modify added.',
    `${EC2_API}API_ModifyManagedPrefixList.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'GetManagedPrefixListEntries',
    'get prefix list entries after modify',
    '1.Description',
    { sandbox: '"b"', moto: '"c"' },
    'As for 1.Cidr: the entries are those of the current version.',
    `${EC2_API}API_GetManagedPrefixListEntries.html`,
    'sandbox follows AWS',
  ),
  compared(
    'ec2',
    'DeleteManagedPrefixList',
    'delete the prefix list',
    'State',
    { sandbox: '"delete-in-progress"', moto: '"delete-complete"' },
    'DeleteManagedPrefixList answers State "delete-in-progress" (the API example).',
    `${EC2_API}API_DeleteManagedPrefixList.html`,
    'sandbox follows AWS',
  ),
  // ---- S3
  compared(
    's3',
    'CreateBucket',
    'create bucket',
    'Location',
    { sandbox: '"http://tether-conformance-oidc.s3.amazonaws.com/"', moto: '"/tether-conformance-oidc"' },
    'Outside us-east-1 the Location is the bucket URL ("http://my-bucket.s3.amazonaws.com/" in the eu-west-1 example); "/my-bucket" is the us-east-1 form. Tether does not read it.',
    S3_CREATE_BUCKET,
    'sandbox follows AWS',
  ),
  // ---- EKS
  compared(
    'eks',
    'DescribeCluster',
    'describe the cluster',
    'endpoint',
    {
      sandbox: '"<eks endpoint>"',
      moto: '"https://<random 20>.<random 3>.ap-southeast-1.eks.amazonaws.com/"',
    },
    'The endpoint is https://<32 upper-case hex>.<zone>.<region>.eks.amazonaws.com without a trailing slash (e.g. ...gr7.us-west-2.eks.amazonaws.com); Tether uses it as the kubeconfig server.',
    `${EKS_CLUSTER}; https://docs.aws.amazon.com/cli/latest/reference/eks/describe-cluster.html`,
    'sandbox follows AWS',
  ),
  compared(
    'eks',
    'DescribeCluster',
    'describe the cluster',
    'issuer',
    { sandbox: '"<oidc issuer>"', moto: '"https://oidc.eks.ap-southeast-1.amazonaws.com/id/<random 10>"' },
    'The issuer is https://oidc.eks.<region>.amazonaws.com/id/<32 upper-case hex>; Tether derives the OIDC provider ARN from it.',
    'https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html',
    'sandbox follows AWS',
  ),
  compared(
    'eks',
    'DescribeCluster',
    'describe the cluster',
    'vpcId',
    { sandbox: 'true', moto: '<absent>' },
    'resourcesVpcConfig.vpcId is the VPC of the cluster subnets; Tether reads it to find the NAT gateways.',
    EKS_CLUSTER,
    'sandbox follows AWS',
  ),
  compared(
    'eks',
    'DescribeCluster',
    'describe the cluster',
    'clusterSecurityGroupId',
    { sandbox: '"<sg id>"', moto: '<absent>' },
    'resourcesVpcConfig.clusterSecurityGroupId is the security group EKS made; Tether writes the ingress rules there.',
    `${EKS_API}API_VpcConfigResponse.html`,
    'sandbox follows AWS',
  ),
  compared(
    'eks',
    'DescribeCluster',
    'describe the cluster',
    'authenticationMode',
    { sandbox: '"API"', moto: '<absent>' },
    'accessConfig.authenticationMode is what CreateCluster set (API here); moto ignores accessConfig.',
    `${EKS_API}API_AccessConfigResponse.html`,
    'sandbox follows AWS',
  ),
  accessEntryGap('CreateAccessEntry', 'create an access entry'),
  accessEntryGap('DescribeAccessEntry', 'describe the access entry'),
  accessEntryGap('AssociateAccessPolicy', 'associate an access policy'),
  accessEntryGap('ListAssociatedAccessPolicies', 'list associated access policies'),
  accessEntryGap('DisassociateAccessPolicy', 'disassociate the access policy'),
  accessEntryGap('DeleteAccessEntry', 'delete the access entry'),
  {
    service: 'eks',
    operation: 'CreatePodIdentityAssociation',
    field: 'outcome',
    sandbox:
      'implemented (local/sandbox/eks-pod-identity.ts), with the credential path behind it (local/sandbox/eks-auth.ts: AssumeRoleForPodIdentity, both hops evaluated)',
    moto: 'not implemented',
    aws: 'Creates an EKS Pod Identity association, optionally with a targetRoleArn and an externalId for cross-account use (docs/aws-facts.md#pod-identity-cross-account). moto does not have it, so no sequence compares it; the sandbox follows the API reference, checked by test/unit/local/sandbox/eks-pod-identity.test.ts and eks-auth.test.ts.',
    reference: `${EKS_API}API_CreatePodIdentityAssociation.html`,
    verdict: 'unknown',
    check: 'documented',
  },
];

/** The listed divergence for a difference, if any. */
export function findDivergence(d: {
  service: string;
  operation: string;
  step: string;
  field: string;
}): Divergence | undefined {
  return DIVERGENCES.find(
    (e) =>
      e.check === 'compared' &&
      e.service === d.service &&
      e.operation === d.operation &&
      e.field === d.field &&
      (e.step === undefined || e.step === d.step),
  );
}

/** The table as rows for `console.table`. */
export function divergenceRows(hits?: ReadonlySet<Divergence>): Record<string, string>[] {
  return DIVERGENCES.map((d) => ({
    call: `${d.service}:${d.operation}${d.step ? ` [${d.step}]` : ''}`,
    field: d.field,
    sandbox: d.sandbox,
    moto: d.moto,
    aws: d.aws,
    verdict: d.verdict,
    reference: d.reference,
    seen: d.check === 'documented' ? 'documented' : hits?.has(d) ? 'compared: seen' : 'compared: NOT seen',
  }));
}

export { EC2_API, IAM_API, IAM_QUOTAS, STS_ASSUME };
