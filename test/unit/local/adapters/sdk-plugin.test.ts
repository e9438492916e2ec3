import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthorizeSecurityGroupIngressCommand, EC2Client, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient, ListRolesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  S3Client,
  CreateBucketCommand,
  GetBucketTaggingCommand,
} from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '#local/sandbox/index';
import { agentClients, clientsFor, rejectionOf } from '../sandbox/helpers';

/** A fake AWS endpoint answering every request with the next canned error response. */
let server: Server;
let endpoint: string;
let next: { status: number; headers: Record<string, string>; body: string } = {
  status: 500,
  headers: {},
  body: '',
};

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(next.status, {
        'x-amzn-requestid': 'req-1',
        'x-amz-request-id': 'req-1',
        ...next.headers,
      });
      res.end(next.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const dummy = { accessKeyId: 'AKIAREAL', secretAccessKey: 'secret' };
const real = {
  iam: () => new IAMClient({ region: 'us-east-1', endpoint, credentials: dummy, maxAttempts: 1 }),
  sts: () => new STSClient({ region: 'ap-southeast-1', endpoint, credentials: dummy, maxAttempts: 1 }),
  ec2: () => new EC2Client({ region: 'ap-southeast-1', endpoint, credentials: dummy, maxAttempts: 1 }),
  eks: () => new EKSClient({ region: 'ap-southeast-1', endpoint, credentials: dummy, maxAttempts: 1 }),
  s3: () =>
    new S3Client({
      region: 'ap-southeast-1',
      endpoint,
      credentials: dummy,
      maxAttempts: 1,
      forcePathStyle: true,
    }),
};

const queryError = (ns: string, type: string, code: string, message: string) =>
  `<ErrorResponse xmlns="${ns}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`;
const ec2Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`;

/** What a caller can observe of an SDK error, request ids aside. */
function observable(err: Error & Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    class: err.constructor,
    name: err.name,
    message: err.message,
    status: err.$metadata?.httpStatusCode,
  };
  for (const [k, v] of Object.entries(err)) {
    if (k === '$response' || k === '$metadata' || k === 'RequestId' || k === 'HostId') continue;
    out[k] = v;
  }
  return out;
}

async function sameError(
  sandboxCall: Promise<unknown>,
  realCall: Promise<unknown>,
  wire: typeof next,
): Promise<Error & Record<string, any>> {
  const ours = await rejectionOf(sandboxCall);
  next = wire;
  const theirs = await rejectionOf(realCall);
  expect(observable(ours)).toEqual(observable(theirs));
  return ours;
}

describe('sdk plugin', () => {
  it('answers commands from the sandbox with SDK-shaped output and metadata', async () => {
    const sb = Sandbox.open();
    const { iam } = clientsFor(sb, sb.hubCredentials());
    const out = await iam.send(new ListRolesCommand({}));
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.Roles?.map((r) => r.RoleName)).toContain('tether-hub');
    expect(sb.calls().at(-1)).toMatchObject({
      service: 'iam',
      operation: 'ListRoles',
      accountId: '000000000000',
      ok: true,
    });
  });

  it('throws the modeled IAM exception the real SDK throws for NoSuchEntity', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '111111111111');
    const err = await sameError(
      iam.send(new GetRoleCommand({ RoleName: 'nope' })),
      real.iam().send(new GetRoleCommand({ RoleName: 'nope' })),
      {
        status: 404,
        headers: { 'content-type': 'text/xml' },
        body: queryError(
          'https://iam.amazonaws.com/doc/2010-05-08/',
          'Sender',
          'NoSuchEntity',
          'The role with name nope cannot be found.',
        ),
      },
    );
    expect(err).toBeInstanceOf(NoSuchEntityException);
    expect(err.name).toBe('NoSuchEntityException');
    expect(err.$fault).toBe('client');
  });

  it('throws an unmodeled IAM Throttling error as the real SDK does', async () => {
    const sb = Sandbox.open();
    const { iam } = await agentClients(sb, '111111111111');
    sb.injectFault({ service: 'iam', operation: 'GetRole', code: 'Throttling' });
    const err = await sameError(
      iam.send(new GetRoleCommand({ RoleName: 'x' })),
      real.iam().send(new GetRoleCommand({ RoleName: 'x' })),
      {
        status: 400,
        headers: { 'content-type': 'text/xml' },
        body: queryError(
          'https://iam.amazonaws.com/doc/2010-05-08/',
          'Sender',
          'Throttling',
          'Rate exceeded',
        ),
      },
    );
    expect(err.name).toBe('Throttling');
  });

  it('throws the STS AccessDenied error the real SDK throws', async () => {
    const sb = Sandbox.open();
    const { sts } = clientsFor(sb, sb.rootCredentials('111111111111'));
    const input = { RoleArn: 'arn:aws:iam::222222222222:role/tether/tether-agent', RoleSessionName: 's1' };
    const err = await sameError(
      sts.send(new AssumeRoleCommand(input)),
      real.sts().send(new AssumeRoleCommand(input)),
      {
        status: 403,
        headers: { 'content-type': 'text/xml' },
        body: queryError(
          'https://sts.amazonaws.com/doc/2011-06-15/',
          'Sender',
          'AccessDenied',
          `User: arn:aws:iam::111111111111:root is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`,
        ),
      },
    );
    expect(err.name).toBe('AccessDenied');
  });

  it('throws EC2 errors as the real SDK names them (no modeled classes)', async () => {
    const sb = Sandbox.open();
    const { ec2 } = await agentClients(sb, '222222222222');
    const sg =
      sb.state().accounts['222222222222']!.regions['ap-southeast-1']!.eks.clusters['cluster-b']!
        .clusterSecurityGroupId;
    const input = {
      GroupId: sg,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '18.0.35.117/32' }] },
      ],
    };
    await ec2.send(new AuthorizeSecurityGroupIngressCommand(input));
    const message =
      'the specified rule "peer: 18.0.35.117/32, TCP, from port: 443, to port: 443, ALLOW" already exists';
    const err = await sameError(
      ec2.send(new AuthorizeSecurityGroupIngressCommand(input)),
      real.ec2().send(new AuthorizeSecurityGroupIngressCommand(input)),
      {
        status: 400,
        headers: { 'content-type': 'text/xml' },
        body: ec2Error('InvalidPermission.Duplicate', message),
      },
    );
    expect(err.name).toBe('InvalidPermission.Duplicate');
    expect(err.message).toBe(message);

    sb.injectFault({ service: 'ec2', operation: 'DescribeVpcs', code: 'RequestLimitExceeded' });
    const throttled = await sameError(
      ec2.send(new DescribeVpcsCommand({})),
      real.ec2().send(new DescribeVpcsCommand({})),
      {
        status: 503,
        headers: { 'content-type': 'text/xml' },
        body: ec2Error('RequestLimitExceeded', 'Request limit exceeded.'),
      },
    );
    expect(throttled.$fault).toBe('server');
  });

  it('throws the modeled EKS exception the real SDK throws', async () => {
    const sb = Sandbox.open();
    const { eks } = await agentClients(sb, '222222222222');
    const err = await sameError(
      eks.send(new DescribeClusterCommand({ name: 'nope' })),
      real.eks().send(new DescribeClusterCommand({ name: 'nope' })),
      {
        status: 404,
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' },
        body: JSON.stringify({ message: 'No cluster found for name: nope.', clusterName: 'nope' }),
      },
    );
    expect(err.name).toBe('ResourceNotFoundException');
  });

  it('throws the S3 errors the real SDK throws, body-less for HEAD', async () => {
    const sb = Sandbox.open();
    const { s3 } = await agentClients(sb, '111111111111');
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'b-1',
        CreateBucketConfiguration: { LocationConstraint: 'ap-southeast-1' },
      }),
    );
    const err = await sameError(
      s3.send(new GetObjectCommand({ Bucket: 'b-1', Key: 'k' })),
      real.s3().send(new GetObjectCommand({ Bucket: 'b-1', Key: 'k' })),
      {
        status: 404,
        headers: { 'content-type': 'application/xml' },
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>req-1</RequestId><HostId>host</HostId></Error>',
      },
    );
    expect(err).toBeInstanceOf(NoSuchKey);
    const head = await sameError(
      s3.send(new HeadObjectCommand({ Bucket: 'b-1', Key: 'k' })),
      real.s3().send(new HeadObjectCommand({ Bucket: 'b-1', Key: 'k' })),
      {
        status: 404,
        headers: {},
        body: '',
      },
    );
    expect(head.name).toBe('NotFound');
    await sameError(
      s3.send(new GetBucketTaggingCommand({ Bucket: 'b-1' })),
      real.s3().send(new GetBucketTaggingCommand({ Bucket: 'b-1' })),
      {
        status: 404,
        headers: { 'content-type': 'application/xml' },
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchTagSet</Code><Message>The TagSet does not exist</Message><BucketName>b-1</BucketName><RequestId>req-1</RequestId><HostId>host</HostId></Error>',
      },
    );
  });
});
