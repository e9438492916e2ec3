/**
 * Service Quotas: GetServiceQuota (the applied value), GetAWSDefaultServiceQuota and
 * ListServiceQuotas for the quotas Tether's plan and allowance depend on, and the applied
 * values the other sandbox services enforce — raising `vpc/L-0EA8095F` lets a security group
 * hold more rules, as it does in AWS (docs/aws-facts.md#service-quotas).
 *
 * Applied values are per account; a regional quota is applied per Region, a global one (IAM)
 * once, and AWS reports it in us-east-1. Tests set them with `Sandbox.setServiceQuota`.
 */
import { type OpContext, type Operations, paginate, requireString } from './context';
import { SandboxError } from './errors';
import type { AccountState } from './state';

/** One quota the sandbox knows: its AWS default and whether it can be raised. */
export interface QuotaDefinition {
  readonly serviceCode: string;
  readonly serviceName: string;
  readonly quotaCode: string;
  readonly quotaName: string;
  readonly value: number;
  readonly adjustable: boolean;
  /** IAM quotas are global: one value for the account, reported in us-east-1. */
  readonly global: boolean;
}

/**
 * The quotas the sandbox serves (docs/aws-facts.md#service-quotas): codes and defaults as
 * AWS lists them (IAM endpoints and quotas; Amazon VPC quotas; EKS best practices, "Known
 * limits and service quotas").
 */
export const QUOTA_CATALOG: readonly QuotaDefinition[] = [
  {
    serviceCode: 'vpc',
    serviceName: 'Amazon Virtual Private Cloud (Amazon VPC)',
    quotaCode: 'L-0EA8095F',
    quotaName: 'Inbound or outbound rules per security group',
    value: 60,
    adjustable: true,
    global: false,
  },
  {
    serviceCode: 'iam',
    serviceName: 'AWS Identity and Access Management (IAM)',
    quotaCode: 'L-FE177D64',
    quotaName: 'Roles per account',
    value: 1000,
    adjustable: true,
    global: true,
  },
  {
    serviceCode: 'iam',
    serviceName: 'AWS Identity and Access Management (IAM)',
    quotaCode: 'L-C07B4B0D',
    quotaName: 'Role trust policy length',
    value: 2048,
    adjustable: true,
    global: true,
  },
  {
    serviceCode: 'iam',
    serviceName: 'AWS Identity and Access Management (IAM)',
    quotaCode: 'L-858F3967',
    quotaName: 'OpenId connect providers per account',
    value: 100,
    adjustable: true,
    global: true,
  },
];

/** Where the global quotas are reported. */
export const GLOBAL_QUOTA_REGION = 'us-east-1';

function definitionOf(serviceCode: unknown, quotaCode: unknown): QuotaDefinition {
  const service = requireString(serviceCode, 'ServiceCode', 'IllegalArgumentException');
  const code = requireString(quotaCode, 'QuotaCode', 'IllegalArgumentException');
  const def = QUOTA_CATALOG.find((q) => q.serviceCode === service && q.quotaCode === code);
  if (!def) {
    throw new SandboxError(
      'NoSuchResourceException',
      `The request failed because the specified quota ${service}/${code} doesn't exist.`,
      {
        statusCode: 400,
      },
    );
  }
  return def;
}

/** The key of an applied value in the account's state: Region ('' for a global quota), service, code. */
export function appliedKey(
  def: Pick<QuotaDefinition, 'serviceCode' | 'quotaCode' | 'global'>,
  region: string,
) {
  return `${def.global ? '' : region}|${def.serviceCode}|${def.quotaCode}`;
}

/**
 * The value a quota has in an account (and Region): the applied value a test set, else the
 * AWS default. What the sandbox's services enforce.
 */
export function appliedQuota(
  account: AccountState,
  region: string,
  serviceCode: string,
  quotaCode: string,
): number {
  const def = QUOTA_CATALOG.find((q) => q.serviceCode === serviceCode && q.quotaCode === quotaCode);
  if (!def) throw new Error(`The sandbox has no quota ${serviceCode}/${quotaCode}`);
  return account.serviceQuotas?.[appliedKey(def, region)] ?? def.value;
}

function quotaOutput(ctx: OpContext, def: QuotaDefinition, value: number): Record<string, unknown> {
  const region = def.global ? GLOBAL_QUOTA_REGION : ctx.region;
  return {
    ServiceCode: def.serviceCode,
    ServiceName: def.serviceName,
    QuotaArn: `arn:aws:servicequotas:${region}:${ctx.account.id}:${def.serviceCode}/${def.quotaCode}`,
    QuotaCode: def.quotaCode,
    QuotaName: def.quotaName,
    Value: value,
    Unit: 'None',
    Adjustable: def.adjustable,
    GlobalQuota: def.global,
    QuotaAppliedAtLevel: 'ACCOUNT',
  };
}

/** The Service Quotas operations. */
export const serviceQuotasOperations: Operations = {
  GetServiceQuota: (ctx, input) => {
    const def = definitionOf(input.ServiceCode, input.QuotaCode);
    return {
      Quota: quotaOutput(ctx, def, appliedQuota(ctx.account, ctx.region, def.serviceCode, def.quotaCode)),
    };
  },

  GetAWSDefaultServiceQuota: (ctx, input) => {
    const def = definitionOf(input.ServiceCode, input.QuotaCode);
    return { Quota: quotaOutput(ctx, def, def.value) };
  },

  ListServiceQuotas: (ctx, input) => {
    const service = requireString(input.ServiceCode, 'ServiceCode', 'IllegalArgumentException');
    const defs = QUOTA_CATALOG.filter(
      (q) => q.serviceCode === service && (input.QuotaCode === undefined || q.quotaCode === input.QuotaCode),
    );
    if (!QUOTA_CATALOG.some((q) => q.serviceCode === service)) {
      throw new SandboxError(
        'NoSuchResourceException',
        `The request failed because the specified service ${service} doesn't exist.`,
        {
          statusCode: 400,
        },
      );
    }
    const { page, next } = paginate(defs, input.NextToken, input.MaxResults, 100);
    return {
      Quotas: page.map((def) =>
        quotaOutput(ctx, def, appliedQuota(ctx.account, ctx.region, def.serviceCode, def.quotaCode)),
      ),
      ...(next ? { NextToken: next } : {}),
    };
  },
};
