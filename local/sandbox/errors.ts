/**
 * The one error type the sandbox throws. It carries the AWS error *code* (the string AWS
 * puts on the wire, e.g. `NoSuchEntity`, `InvalidPermission.Duplicate`,
 * `ResourceInUseException`); `local/adapters/sdk-plugin.ts` turns it into the exception object the real
 * SDK v3 client would throw for that code.
 */

/** Options of a {@link SandboxError}. */
export interface SandboxErrorOptions {
  /** HTTP status AWS answers with. Used when the SDK models no class for the code. @default 400 */
  readonly statusCode?: number;
  /** Extra members AWS puts in the error body (e.g. EKS `clusterName`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * An AWS error raised by the sandbox.
 *
 * @example
 * throw new SandboxError('NoSuchEntity', 'The role with name x cannot be found.', { statusCode: 404 });
 */
export class SandboxError extends Error {
  /** The AWS error code, as on the wire. */
  readonly code: string;
  /** HTTP status of the error response. */
  readonly statusCode: number;
  /** Extra members of the error body. */
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: SandboxErrorOptions = {}) {
    super(message);
    this.name = 'SandboxError';
    this.code = code;
    this.statusCode = options.statusCode ?? 400;
    this.extra = options.extra ?? {};
  }

  /** `client` below HTTP 500, else `server` — the rule the SDK applies to unmodeled errors. */
  get fault(): 'client' | 'server' {
    return this.statusCode < 500 ? 'client' : 'server';
  }
}

/** True if `err` is a {@link SandboxError}, optionally with one of `codes`. */
export function isSandboxError(err: unknown, ...codes: string[]): err is SandboxError {
  return err instanceof SandboxError && (codes.length === 0 || codes.includes(err.code));
}
