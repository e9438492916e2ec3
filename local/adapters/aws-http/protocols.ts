/**
 * The wire protocols the HTTP door speaks, as the AWS services do (Smithy protocol specs):
 * - `awsQuery` (STS, IAM): form-encoded `Action`/`Version` and members, lists as
 *   `Name.member.N`; XML responses `<OpResponse><OpResult>…</OpResult><ResponseMetadata>`,
 *   errors `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`. XML is
 *   built with the SDK's own `@aws-sdk/xml-builder`.
 * - `restJson1` (EKS): the operation is the method and path, JSON bodies, timestamps as
 *   epoch seconds, errors as the `x-amzn-errortype` header and `{ "message" }`.
 * STS's JSON answer to `Accept: application/json` is what aws-iam-authenticator reads from
 * GetCallerIdentity (aws-iam-authenticator, pkg/token/token.go).
 */
import { XmlNode } from '@aws-sdk/xml-builder';

/** The namespaces of the query services' documents. */
export const QUERY_XMLNS: Readonly<Record<string, string>> = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
};

/**
 * The members of a query-protocol request: `A=1` → `{A: '1'}`, `L.member.1=x` → `{L: ['x']}`,
 * `T.member.1.Key=k` → `{T: [{Key: 'k'}]}`. `Action`, `Version` and the `X-Amz-*` auth
 * parameters are left out.
 */
export function queryInput(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version' || key.startsWith('X-Amz-')) continue;
    const parts = key.split('.').filter((p) => p !== 'member');
    let node: any = out;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      const slot: string | number = Array.isArray(node) ? Number(part) - 1 : part;
      if (i === parts.length - 1) node[slot] = value;
      else {
        const next = parts[i + 1] ?? '';
        node[slot] ??= /^\d+$/.test(next) ? [] : {};
        node = node[slot];
      }
    }
  }
  return out;
}

function xmlOf(name: string, value: unknown): XmlNode {
  if (Array.isArray(value)) {
    const node = new XmlNode(name);
    for (const v of value) node.addChildNode(xmlOf('member', v));
    return node;
  }
  if (value instanceof Date) return XmlNode.of(name, value.toISOString());
  if (value !== null && typeof value === 'object') {
    const node = new XmlNode(name);
    for (const [k, v] of Object.entries(value)) if (v !== undefined) node.addChildNode(xmlOf(k, v));
    return node;
  }
  return XmlNode.of(name, String(value));
}

/** A query-protocol success document. */
export function queryResponse(
  service: string,
  operation: string,
  output: Record<string, unknown>,
  requestId: string,
): string {
  const result = xmlOf(`${operation}Result`, output);
  const doc = new XmlNode(`${operation}Response`)
    .addAttribute('xmlns', QUERY_XMLNS[service] ?? '')
    .addChildNode(result)
    .addChildNode(new XmlNode('ResponseMetadata').addChildNode(XmlNode.of('RequestId', requestId)));
  return doc.toString();
}

/** A query-protocol error document. */
export function queryError(
  service: string,
  code: string,
  message: string,
  status: number,
  requestId: string,
): string {
  return new XmlNode('ErrorResponse')
    .addAttribute('xmlns', QUERY_XMLNS[service] ?? '')
    .addChildNode(
      new XmlNode('Error')
        .addChildNode(XmlNode.of('Type', status < 500 ? 'Sender' : 'Receiver'))
        .addChildNode(XmlNode.of('Code', code))
        .addChildNode(XmlNode.of('Message', message)),
    )
    .addChildNode(XmlNode.of('RequestId', requestId))
    .toString();
}

/** STS's JSON rendering of a query response (`Accept: application/json`). */
export function queryJsonResponse(
  operation: string,
  output: Record<string, unknown>,
  requestId: string,
): string {
  return JSON.stringify({
    [`${operation}Response`]: { [`${operation}Result`]: output, ResponseMetadata: { RequestId: requestId } },
  });
}

/** restJson1 body: dates as epoch seconds. */
export function restJsonBody(output: Record<string, unknown>): string {
  return JSON.stringify(output, function replacer(this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : value;
  });
}

/** An EKS route: method, path pattern, operation and how the path and body make the input. */
interface RestRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly operation: string;
  readonly input: (
    m: string[],
    body: Record<string, unknown>,
    query: URLSearchParams,
  ) => Record<string, unknown>;
}

const num = (v: string | null) => (v === null ? undefined : Number(v));

/** The EKS operations the door serves (EKS API reference: each operation's "Request Syntax"). */
const EKS_ROUTES: readonly RestRoute[] = [
  {
    method: 'GET',
    pattern: /^\/clusters$/,
    operation: 'ListClusters',
    input: (_m, _b, q) => ({
      nextToken: q.get('nextToken') ?? undefined,
      maxResults: num(q.get('maxResults')),
    }),
  },
  {
    method: 'GET',
    pattern: /^\/clusters\/([^/]+)$/,
    operation: 'DescribeCluster',
    input: (m) => ({ name: m[1] }),
  },
  {
    method: 'GET',
    pattern: /^\/clusters\/([^/]+)\/access-entries$/,
    operation: 'ListAccessEntries',
    input: (m, _b, q) => ({
      clusterName: m[1],
      associatedPolicyArn: q.get('associatedPolicyArn') ?? undefined,
    }),
  },
  {
    method: 'POST',
    pattern: /^\/clusters\/([^/]+)\/access-entries$/,
    operation: 'CreateAccessEntry',
    input: (m, b) => ({ ...b, clusterName: m[1] }),
  },
  {
    method: 'GET',
    pattern: /^\/clusters\/([^/]+)\/access-entries\/([^/]+)$/,
    operation: 'DescribeAccessEntry',
    input: (m) => ({ clusterName: m[1], principalArn: m[2] }),
  },
  {
    method: 'DELETE',
    pattern: /^\/clusters\/([^/]+)\/access-entries\/([^/]+)$/,
    operation: 'DeleteAccessEntry',
    input: (m) => ({ clusterName: m[1], principalArn: m[2] }),
  },
  {
    method: 'GET',
    pattern: /^\/clusters\/([^/]+)\/access-entries\/([^/]+)\/access-policies$/,
    operation: 'ListAssociatedAccessPolicies',
    input: (m) => ({ clusterName: m[1], principalArn: m[2] }),
  },
  {
    method: 'POST',
    pattern: /^\/clusters\/([^/]+)\/access-entries\/([^/]+)\/access-policies$/,
    operation: 'AssociateAccessPolicy',
    input: (m, b) => ({ ...b, clusterName: m[1], principalArn: m[2] }),
  },
];

/** The EKS operation and input of a REST request, or undefined. */
export function eksRoute(
  method: string,
  rawPath: string,
  body: Record<string, unknown>,
  query: URLSearchParams,
): { operation: string; input: Record<string, unknown> } | undefined {
  for (const route of EKS_ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(rawPath);
    if (!m) continue;
    const decoded = m.map((p) => decodeURIComponent(p));
    const input = Object.fromEntries(
      Object.entries(route.input(decoded, body, query)).filter(([, v]) => v !== undefined),
    );
    return { operation: route.operation, input };
  }
  return undefined;
}
