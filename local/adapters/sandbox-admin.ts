/**
 * The sandbox's admin calls on the local runtime's HTTP port, beside the API (local mode
 * only; never in AWS): what a platform team does to a source account that Tether must
 * follow. `POST /_sandbox/nat-gateways/replace` replaces the NAT gateway that holds a public
 * IP with a new one (a new Elastic IP, the same subnet), as its account's root user, through
 * the sandbox's EC2 API: CloudTrail records CreateNatGateway and DeleteNatGateway, the local
 * bus takes them, and the reconcile workflow repairs the links of that VPC
 * (`npm run sandbox:replace-nat`, README "Watch a link repair itself").
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import type { Sandbox } from '#local/sandbox/index';
import { sandboxPlugin } from './sdk-plugin';

/** The path of the admin call. */
export const REPLACE_NAT_PATH = '/_sandbox/nat-gateways/replace';

/** What {@link replaceNatGateway} did. */
export interface NatReplacement {
  readonly accountId: string;
  readonly region: string;
  readonly vpcId: string;
  readonly replaced: { readonly natGatewayId: string; readonly publicIp: string };
  readonly by: { readonly natGatewayId: string; readonly publicIp: string };
}

/**
 * Replaces the NAT gateway of `publicIp` in a source account: allocates an Elastic IP,
 * creates a gateway with it in the same subnet (pending until described), deletes the old
 * one. Every call goes through the sandbox as the account's root user, so each is recorded
 * and emitted like any other.
 */
export async function replaceNatGateway(
  sandbox: Sandbox,
  where: { readonly accountId: string; readonly region: string; readonly publicIp: string },
): Promise<NatReplacement> {
  const ec2 = new EC2Client({ region: where.region, credentials: sandbox.rootCredentials(where.accountId) });
  ec2.middlewareStack.use(sandboxPlugin(sandbox, 'ec2', ec2.config as never));
  try {
    const gateways = (await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? [];
    const old = gateways.find(
      (g) => g.State === 'available' && g.NatGatewayAddresses?.some((a) => a.PublicIp === where.publicIp),
    );
    if (!old?.NatGatewayId || !old.SubnetId) {
      throw Object.assign(
        new Error(`No available NAT gateway holds ${where.publicIp} in ${where.accountId}/${where.region}`),
        {
          statusCode: 404,
        },
      );
    }
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const created = await ec2.send(
      new CreateNatGatewayCommand({ SubnetId: old.SubnetId, AllocationId: eip.AllocationId }),
    );
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: old.NatGatewayId }));
    return {
      accountId: where.accountId,
      region: where.region,
      vpcId: old.VpcId ?? '',
      replaced: { natGatewayId: old.NatGatewayId, publicIp: where.publicIp },
      by: { natGatewayId: created.NatGateway?.NatGatewayId ?? '', publicIp: eip.PublicIp ?? '' },
    };
  } finally {
    ec2.destroy();
  }
}

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

const json = (statusCode: number, body: unknown): APIGatewayProxyResultV2 => ({
  statusCode,
  headers: { 'content-type': statusCode < 400 ? 'application/json' : 'application/problem+json' },
  body: JSON.stringify(body),
});

/** The API handler with the sandbox's admin calls in front of it. */
export function withSandboxAdmin(api: ApiHandler, sandbox: Sandbox): ApiHandler {
  return async (event, context) => {
    if (event.rawPath !== REPLACE_NAT_PATH || event.requestContext.http.method !== 'POST')
      return api(event, context);
    let body: { accountId?: unknown; region?: unknown; publicIp?: unknown };
    try {
      body = JSON.parse(
        event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString() : (event.body ?? '{}'),
      );
    } catch {
      return json(400, { title: 'The body is not JSON', status: 400, code: 'MALFORMED_JSON' });
    }
    if (typeof body.publicIp !== 'string') {
      return json(422, { title: 'publicIp is required', status: 422, code: 'VALIDATION_FAILED' });
    }
    try {
      const done = await replaceNatGateway(sandbox, {
        accountId: typeof body.accountId === 'string' ? body.accountId : '111111111111',
        region: typeof body.region === 'string' ? body.region : 'ap-southeast-1',
        publicIp: body.publicIp,
      });
      return json(200, done);
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      return json(status, { title: (err as Error).message, status, code: 'SANDBOX_REFUSED' });
    }
  };
}
