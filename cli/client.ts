/**
 * The API client of the CLI: one endpoint, the local runtime (unsigned) or a deployed hub
 * (SigV4 for `execute-api`). A problem answer becomes an {@link ApiProblemError} with its
 * stable code; a network failure an {@link UnreachableError}.
 */
import { ApiProblemError, type ProblemField, UnreachableError, UsageError } from './exit-codes';
import { createSigner, regionOfHost, type Signer, type SignerOptions } from './sigv4';

/** Where the CLI goes when neither `--endpoint` nor `TETHER_ENDPOINT` says: `npm start`'s runtime. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8787';

export interface ClientOptions {
  readonly endpoint: string;
  /** `true`/`false` forces signing; `undefined` signs every endpoint but a loopback one. */
  readonly sign?: boolean;
  readonly region?: string;
  readonly profile?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Per request. @default 30 s */
  readonly requestTimeoutMs?: number;
  /**
   * The principal the local runtime should take the request to come from (`x-tether-caller`,
   * an IAM or STS ARN). The local runtime only: a hub knows its caller from the SigV4
   * signature, so naming one for any other endpoint is a usage error, and the header is
   * never sent there.
   */
  readonly caller?: string;
  /** Fixed credentials instead of the chain (tests). */
  readonly credentials?: SignerOptions['credentials'];
  readonly userAgent?: string;
}

export interface ApiResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: T;
}

export interface SendOptions {
  readonly query?: Record<string, string | undefined>;
  readonly body?: unknown;
  readonly headers?: Record<string, string | undefined>;
}

/** The header the local runtime reads the caller from (local/adapters/http.ts). */
export const CALLER_HEADER = 'x-tether-caller';

/** Loopback hosts: the local runtime, which does not authenticate. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Parses `--endpoint`; a usage error when it is not an http(s) URL. */
export function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint must be a URL such as ${DEFAULT_ENDPOINT}, not "${endpoint}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--endpoint must be an http or https URL, not "${endpoint}"`);
  }
  return url;
}

export class TetherClient {
  readonly base: URL;
  readonly signs: boolean;
  readonly #options: ClientOptions;
  #signer: Promise<Signer> | undefined;

  constructor(options: ClientOptions) {
    this.#options = options;
    this.base = parseEndpoint(options.endpoint);
    this.signs = options.sign ?? !isLoopback(this.base.hostname);
    if (options.caller !== undefined && !isLoopback(this.base.hostname)) {
      throw new UsageError(
        `--caller names the caller for the local runtime only; ${this.base.host} knows its caller from the SigV4 signature (use --profile or AWS credentials)`,
      );
    }
  }

  get endpoint(): string {
    return this.base.href.replace(/\/$/, '');
  }

  /** The region to sign for: `--region`, the hub's host name, then AWS_REGION / AWS_DEFAULT_REGION. */
  signingRegion(): string {
    const env = this.#options.env ?? {};
    const region =
      this.#options.region ?? regionOfHost(this.base.hostname) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) {
      throw new UsageError(
        `cannot tell which region to sign requests to ${this.base.host} for: pass --region or set AWS_REGION`,
      );
    }
    return region;
  }

  #sign(): Promise<Signer> {
    this.#signer ??= createSigner({
      region: this.signingRegion(),
      ...(this.#options.profile ? { profile: this.#options.profile } : {}),
      ...(this.#options.credentials ? { credentials: this.#options.credentials } : {}),
    });
    return this.#signer;
  }

  url(path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.append(k, v);
    return url;
  }

  async send<T = any>(method: string, path: string, options: SendOptions = {}): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      accept: 'application/json, application/problem+json, application/yaml;q=0.9',
      ...(this.#options.userAgent ? { 'user-agent': this.#options.userAgent } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    for (const [k, v] of Object.entries(options.headers ?? {})) if (v !== undefined) headers[k] = v;
    // The constructor refused a caller for any endpoint but a loopback one.
    if (this.#options.caller !== undefined) headers[CALLER_HEADER] = this.#options.caller;
    if (this.signs) {
      const signed = await (await this.#sign())({
        method,
        url,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      // fetch sets Host itself, from the URL the signature was made for.
      const { host: _host, ...rest } = signed;
      headers = rest;
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new UnreachableError(this.endpoint, networkCause(err));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new UnreachableError(this.endpoint, networkCause(err));
    }
    const type = res.headers.get('content-type') ?? '';
    let parsed: unknown = text;
    if (type.includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.status >= 400) throw problemOf(res.status, parsed, text);
    return { status: res.status, headers: res.headers, text, body: parsed as T };
  }

  get<T = any>(path: string, query?: Record<string, string | undefined>) {
    return this.send<T>('GET', path, query ? { query } : {});
  }
}

function networkCause(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'the request timed out';
  const cause = e?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return cause.message;
  return e?.message ?? String(err);
}

/** The problem an error answer carries; API Gateway's own `{"message": …}` answers get `HTTP_<status>`. */
export function problemOf(status: number, body: unknown, text: string): ApiProblemError {
  if (body && typeof body === 'object') {
    const p = body as Record<string, unknown>;
    const code = typeof p.code === 'string' ? p.code : `HTTP_${status}`;
    const detail =
      (typeof p.detail === 'string' && p.detail) ||
      (typeof p.title === 'string' && p.title) ||
      (typeof p.message === 'string' && p.message) ||
      `HTTP ${status}`;
    const fields = Array.isArray(p.errors)
      ? (p.errors as ProblemField[]).filter((f) => f && typeof f.message === 'string')
      : [];
    return new ApiProblemError(status, code, detail, fields, p);
  }
  const detail = text.trim().slice(0, 300) || `HTTP ${status}`;
  return new ApiProblemError(status, `HTTP_${status}`, detail);
}
