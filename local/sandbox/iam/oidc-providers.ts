/**
 * IAM OIDC identity providers: create (one per issuer URL, at most 100 per account), read,
 * list, delete, their client ids (audiences), and tags.
 */
import { clone, mergeTags, type Operations, removeTags, requireString } from '#local/sandbox/context';
import { SandboxError } from '#local/sandbox/errors';
import { appliedQuota } from '#local/sandbox/service-quotas';
import type { AccountState } from '#local/sandbox/state';
import { checkTagCount, listTags, validateTags } from './tags';

/** OIDC providers per account. */
export const OIDC_PROVIDERS_PER_ACCOUNT = 100;

function oidcOrThrow(
  account: AccountState,
  arn: unknown,
): NonNullable<AccountState['iam']['oidcProviders'][string]> {
  const a = requireString(arn, 'openIDConnectProviderArn');
  const p = account.iam.oidcProviders[a];
  if (!p)
    throw new SandboxError('NoSuchEntity', `OpenIDConnect provider not found for arn ${a}`, {
      statusCode: 404,
    });
  return p;
}

/** The OIDC provider operations. */
export const oidcProviderOperations: Operations = {
  CreateOpenIDConnectProvider: (ctx, input) => {
    const url = requireString(input.Url, 'url');
    const m = /^https:\/\/([^/?#]+(?:\/[^?#]*)?)$/.exec(url);
    if (!m) throw new SandboxError('InvalidInput', 'Invalid URL');
    const hostPath = (m[1] ?? '').replace(/\/$/, '');
    const arn = `arn:aws:iam::${ctx.account.id}:oidc-provider/${hostPath}`;
    const tags = validateTags(input.Tags);
    if (ctx.account.iam.oidcProviders[arn]) {
      throw new SandboxError('EntityAlreadyExists', `Provider with url https://${hostPath} already exists.`, {
        statusCode: 409,
      });
    }
    const providersMax = appliedQuota(ctx.account, ctx.region, 'iam', 'L-858F3967');
    if (Object.keys(ctx.account.iam.oidcProviders).length >= providersMax) {
      throw new SandboxError(
        'LimitExceeded',
        `Cannot exceed quota for OpenIdConnectProvidersPerAccount: ${providersMax}`,
        {
          statusCode: 409,
        },
      );
    }
    ctx.account.iam.oidcProviders[arn] = {
      Arn: arn,
      Url: hostPath,
      ClientIDList: Array.isArray(input.ClientIDList) ? [...new Set<string>(input.ClientIDList)] : [],
      // Thumbprints are optional since IAM fetches them itself for well-known issuers.
      ThumbprintList: Array.isArray(input.ThumbprintList) ? [...input.ThumbprintList] : [],
      CreateDate: ctx.now(),
      Tags: tags,
    };
    return { OpenIDConnectProviderArn: arn, ...(tags.length > 0 ? { Tags: clone(tags) } : {}) };
  },

  GetOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    return {
      Url: p.Url,
      ClientIDList: [...p.ClientIDList],
      ThumbprintList: [...p.ThumbprintList],
      CreateDate: new Date(p.CreateDate),
      ...(p.Tags.length > 0 ? { Tags: clone(p.Tags) } : {}),
    };
  },

  ListOpenIDConnectProviders: (ctx) => ({
    OpenIDConnectProviderList: Object.keys(ctx.account.iam.oidcProviders)
      .sort()
      .map((Arn) => ({ Arn })),
  }),

  DeleteOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    delete ctx.account.iam.oidcProviders[p.Arn];
    return {};
  },

  AddClientIDToOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    const id = requireString(input.ClientID, 'clientID');
    if (!p.ClientIDList.includes(id)) p.ClientIDList.push(id);
    return {};
  },

  RemoveClientIDFromOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    p.ClientIDList = p.ClientIDList.filter((c) => c !== input.ClientID);
    return {};
  },

  TagOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    const tags = mergeTags(p.Tags, input.Tags);
    checkTagCount(tags.length);
    p.Tags = tags;
    return {};
  },

  UntagOpenIDConnectProvider: (ctx, input) => {
    const p = oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn);
    p.Tags = removeTags(p.Tags, input.TagKeys);
    return {};
  },

  ListOpenIDConnectProviderTags: (ctx, input) =>
    listTags(oidcOrThrow(ctx.account, input.OpenIDConnectProviderArn).Tags),
};
