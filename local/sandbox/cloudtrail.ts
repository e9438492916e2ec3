/**
 * CloudTrail, as far as Tether listens to it: a successful EC2 call of the sandbox as the
 * EventBridge event "AWS API Call via CloudTrail" AWS delivers (source `aws.ec2`), with the
 * request and response in CloudTrail's shapes for the NAT gateway calls (their query
 * protocol wraps them in `<Operation>Request` / `<Operation>Response`, as the samples of
 * `events/samples/aws.ec2/` show) and the SDK's shapes otherwise. Events of other services
 * are not made: no pattern of `events/registry.ts` takes them.
 */
import { createHash } from 'node:crypto';
import type { CallRecord } from './sandbox';

/** The calls whose CloudTrail record wraps request and response in `<Operation>Request|Response`. */
const WRAPPED = new Set([
  'CreateNatGateway',
  'DeleteNatGateway',
  'AssociateNatGatewayAddress',
  'DisassociateNatGatewayAddress',
  'AssignPrivateNatGatewayAddress',
  'UnassignPrivateNatGatewayAddress',
]);

/** The SDK's PascalCase keys as CloudTrail's EC2 responses spell them (camelCase), deeply. */
function camel(value: unknown): unknown {
  if (Array.isArray(value)) return { item: value.map(camel) };
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), camel(v)]),
    );
  }
  return value;
}

const uuidOf = (seed: string) => {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

/** The EventBridge event of one call, or undefined for a call CloudTrail would not deliver here. */
export function cloudTrailEvent(
  call: CallRecord,
  result: Readonly<Record<string, unknown>>,
  time: Date = new Date(),
): Record<string, unknown> | undefined {
  if (call.service !== 'ec2' || !call.ok) return undefined;
  const { ResponseMetadata: _m, $metadata: _md, ...response } = result as Record<string, unknown>;
  const wrapped = WRAPPED.has(call.operation);
  const id = uuidOf(`${call.seq}:${call.operation}:${time.toISOString()}`);
  return {
    version: '0',
    id,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.ec2',
    account: call.accountId,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: call.region,
    resources: [],
    detail: {
      eventVersion: '1.09',
      userIdentity: {
        type: call.principalArn.endsWith(':root') ? 'Root' : 'AssumedRole',
        arn: call.principalArn,
        accountId: call.accountId,
      },
      eventTime: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      eventSource: 'ec2.amazonaws.com',
      eventName: call.operation,
      awsRegion: call.region,
      sourceIPAddress: '127.0.0.1',
      userAgent: 'tether-sandbox',
      requestParameters: wrapped ? { [`${call.operation}Request`]: call.input } : camel(call.input),
      responseElements: wrapped ? { [`${call.operation}Response`]: camel(response) } : camel(response),
      requestID: uuidOf(`request:${id}`),
      eventID: id,
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: call.accountId,
      eventCategory: 'Management',
    },
  };
}
