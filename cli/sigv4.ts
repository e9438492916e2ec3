/**
 * SigV4 for a deployed hub: API Gateway authorizes every route with IAM (`execute-api`), so
 * the CLI signs each request with credentials from the standard AWS chain (environment,
 * shared config and SSO profiles, web identity, container and instance metadata).
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { NodeSha256 } from '#aws/sha256';
import { UsageError } from './exit-codes';

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** The region a hub URL names (`{api}.execute-api.{region}.amazonaws.com`), if it names one. */
export function regionOfHost(hostname: string): string | undefined {
  return /\.execute-api\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(hostname)?.[1];
}

export interface SignerOptions {
  readonly region: string;
  /** A named profile of the shared config files; the chain's default otherwise. */
  readonly profile?: string;
  /** Fixed credentials (tests); the standard chain otherwise. */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** Signs requests for `execute-api` in one region; credentials are resolved once and refreshed by the chain. */
export async function createSigner(options: SignerOptions) {
  // Loaded only for a signed endpoint: the local runtime needs none of it.
  const { SignatureV4 } = await import('@smithy/signature-v4');
  let credentials = options.credentials;
  if (!credentials) {
    const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
    credentials = fromNodeProviderChain(options.profile ? { profile: options.profile } : {});
  }
  const signer = new SignatureV4({
    service: 'execute-api',
    region: options.region,
    credentials,
    sha256: NodeSha256,
  });
  return async (request: SignableRequest): Promise<Record<string, string>> => {
    const { url } = request;
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    let signed: Awaited<ReturnType<typeof signer.sign>>;
    try {
      signed = await signer.sign({
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { host: url.host, ...request.headers },
        ...(request.body === undefined ? {} : { body: request.body }),
      });
    } catch (err) {
      const e = err as Error;
      if (e.name === 'CredentialsProviderError' || /credential/i.test(e.message)) {
        throw new UsageError(
          `no AWS credentials to sign requests to ${url.origin} (${e.message}); configure the AWS credential chain (AWS_PROFILE, aws sso login, …) or pass --no-sign`,
        );
      }
      throw err;
    }
    return signed.headers as Record<string, string>;
  };
}

export type Signer = Awaited<ReturnType<typeof createSigner>>;
