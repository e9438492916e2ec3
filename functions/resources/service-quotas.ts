/**
 * The limits Tether judges against, read where AWS keeps them (docs/aws-facts.md#service-quotas):
 * an adjustable quota from Service Quotas (`GetServiceQuota`, the value applied to the
 * account, raised or not), a fixed one from AWS's documentation. Each figure says where it
 * came from, so a plan shows whether a limit is the account's own or a default.
 *
 * Service Quotas may have no applied value for a quota (`NoSuchResourceException`), may
 * refuse the agent (`AccessDeniedException`, e.g. a member stack from before the permission)
 * or throttle: the AWS default is used then, and the source says why. A false refusal is
 * possible there (an increase Tether could not read), never a missed one: an adjustable
 * quota cannot be lowered below its default.
 */
import { GetServiceQuotaCommand, ListServiceQuotasCommand } from '@aws-sdk/client-service-quotas';
import type { AwsClients } from '#aws/clients';

/** One adjustable quota: its Service Quotas codes and its AWS default. */
export interface AdjustableQuota {
  readonly serviceCode: string;
  readonly quotaCode: string;
  /** The AWS default, used when Service Quotas answers no applied value. */
  readonly defaultValue: number;
  /** IAM quotas are global: Service Quotas reports them in us-east-1. */
  readonly global: boolean;
}

/**
 * The adjustable quotas Tether reads (codes as Service Quotas lists them: IAM endpoints and
 * quotas; Amazon VPC quotas; EKS best practices, "Known limits and service quotas").
 */
export const ADJUSTABLE_QUOTAS = {
  /** IAM: role trust policy length (characters, whitespace not counted). */
  trustPolicySize: { serviceCode: 'iam', quotaCode: 'L-C07B4B0D', defaultValue: 2048, global: true },
  /** IAM: OpenID Connect providers per account. */
  oidcProviders: { serviceCode: 'iam', quotaCode: 'L-858F3967', defaultValue: 100, global: true },
  /** IAM: roles per account. */
  roles: { serviceCode: 'iam', quotaCode: 'L-FE177D64', defaultValue: 1000, global: true },
  /** VPC: inbound (and apart outbound) rules per security group, per Region. */
  inboundRules: { serviceCode: 'vpc', quotaCode: 'L-0EA8095F', defaultValue: 60, global: false },
} as const satisfies Record<string, AdjustableQuota>;

export type AdjustableQuotaName = keyof typeof ADJUSTABLE_QUOTAS;

/** Where Service Quotas reports the global (IAM) quotas. */
export const GLOBAL_QUOTA_REGION = 'us-east-1';

/** A limit and where it came from. */
export interface QuotaLimit {
  readonly value: number;
  readonly source: string;
}

/** The source of a limit AWS does not let anyone raise. */
export const FIXED_LIMIT_SOURCE = 'AWS limit, not adjustable (docs/aws-facts.md)';

/**
 * The applied value of an adjustable quota in an account (and Region, for a regional one),
 * or its AWS default with the reason Service Quotas gave none.
 *
 * @example
 * await appliedQuota(clients, '222222222222', 'ap-southeast-1', 'inboundRules');
 * // { value: 60, source: 'Service Quotas applied value (vpc/L-0EA8095F)' }
 */
export async function appliedQuota(
  clients: Pick<AwsClients, 'serviceQuotas'>,
  accountId: string,
  region: string,
  name: AdjustableQuotaName,
): Promise<QuotaLimit> {
  const q: AdjustableQuota = ADJUSTABLE_QUOTAS[name];
  const code = `${q.serviceCode}/${q.quotaCode}`;
  try {
    const out = await clients
      .serviceQuotas(accountId, q.global ? GLOBAL_QUOTA_REGION : region)
      .send(new GetServiceQuotaCommand({ ServiceCode: q.serviceCode, QuotaCode: q.quotaCode }));
    const value = out.Quota?.Value;
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
      return { value: Math.floor(value), source: `Service Quotas applied value (${code})` };
    }
    return { value: q.defaultValue, source: `AWS default (${code}): Service Quotas answered no value` };
  } catch (err) {
    const reason =
      (err as Error).name === 'NoSuchResourceException'
        ? 'Service Quotas has no applied value'
        : `Service Quotas answered ${(err as Error).name}`;
    return { value: q.defaultValue, source: `AWS default (${code}): ${reason}` };
  }
}

/**
 * The applied values of all the adjustable IAM quotas Tether reads, in one ListServiceQuotas
 * (every page) instead of one GetServiceQuota each: the plan needs three per account. A
 * quota Service Quotas does not list, or a refused list, gives the AWS default with the reason.
 *
 * @example
 * const limits = await appliedIamQuotas(clients, '111111111111');
 * limits.roles; // { value: 1000, source: 'Service Quotas applied value (iam/L-FE177D64)' }
 */
export async function appliedIamQuotas(
  clients: Pick<AwsClients, 'serviceQuotas'>,
  accountId: string,
): Promise<Record<'trustPolicySize' | 'oidcProviders' | 'roles', QuotaLimit>> {
  const names = ['trustPolicySize', 'oidcProviders', 'roles'] as const;
  const applied = new Map<string, number>();
  let failure: string | undefined;
  try {
    const sq = clients.serviceQuotas(accountId, GLOBAL_QUOTA_REGION);
    let token: string | undefined;
    do {
      const page = await sq.send(
        new ListServiceQuotasCommand({ ServiceCode: 'iam', ...(token ? { NextToken: token } : {}) }),
      );
      for (const q of page.Quotas ?? []) {
        if (q.QuotaCode && typeof q.Value === 'number' && Number.isFinite(q.Value) && q.Value > 0) {
          applied.set(q.QuotaCode, Math.floor(q.Value));
        }
      }
      token = page.NextToken;
    } while (token);
  } catch (err) {
    failure = `Service Quotas answered ${(err as Error).name}`;
  }
  const out = {} as Record<(typeof names)[number], QuotaLimit>;
  for (const name of names) {
    const q: AdjustableQuota = ADJUSTABLE_QUOTAS[name];
    const code = `${q.serviceCode}/${q.quotaCode}`;
    const value = applied.get(q.quotaCode);
    out[name] =
      value !== undefined
        ? { value, source: `Service Quotas applied value (${code})` }
        : {
            value: q.defaultValue,
            source: `AWS default (${code}): ${failure ?? 'Service Quotas has no applied value'}`,
          };
  }
  return out;
}
