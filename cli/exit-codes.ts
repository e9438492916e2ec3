/**
 * The CLI's exit codes (a contract: scripts branch on them) and the errors that carry them.
 * Every failure the CLI reports goes through one of these classes, so the code a script sees
 * depends only on the kind of failure, never on where it happened.
 */

export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The API answered with a problem (`error CODE: detail`, the problem's stable code); also a CLI bug (`error INTERNAL`). */
  API_ERROR: 1,
  /** The command line, a request file or the local configuration is wrong (nothing was sent). */
  USAGE: 2,
  /** A link ended FAILED, DEGRADED or REJECTED (`--wait`, `link wait`), or `link verify` found a hop that does not hold. */
  LINK_FAILED: 3,
  /** The endpoint could not be reached (connection refused, DNS, TLS, timeout). */
  UNREACHABLE: 4,
  /** `--wait` / `link wait` gave up after `--timeout` while the link was still in progress. */
  TIMEOUT: 5,
  /**
   * A link waits for an approver (AWAITING_APPROVAL): `--wait` / `link wait` stop there,
   * since nothing runs until someone the policies allow runs `tether link approve`.
   */
  AWAITING_APPROVAL: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit codes as `tether --help` and the README list them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  the API answered with an error; stderr says "error CODE: detail" with the problem's code
     (also: an unexpected failure of the CLI itself, "error INTERNAL: …")
  2  usage error: bad flags or arguments, an unreadable request or kubeconfig file, no AWS
     credentials for a signed endpoint, --caller with an endpoint that is not the local
     runtime (nothing was sent)
  3  a link ended FAILED, DEGRADED or REJECTED (--wait, link wait), or link verify found a
     hop that does not hold
  4  the endpoint could not be reached
  5  --wait or link wait timed out while the link was still in progress
  6  a link waits for an approver (AWAITING_APPROVAL): --wait and link wait stop there;
     an approver runs tether link approve ID --reason …`;

/** A failure the CLI reports and exits with. `message` is printed as it is. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(`error: ${message}`, EXIT.USAGE);
    this.name = 'UsageError';
  }
}

/** One invalid field of a problem (`errors[]` of VALIDATION_FAILED). */
export interface ProblemField {
  readonly path: string;
  readonly in?: string;
  readonly message: string;
}

/** An RFC 9457 problem the API answered with, or a non-problem HTTP error (code `HTTP_<status>`). */
export class ApiProblemError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly fields: readonly ProblemField[] = [],
    readonly problem?: Record<string, unknown>,
  ) {
    const lines = [`error ${code}: ${detail}`];
    // QUOTA_EXCEEDED (and an access-entry conflict) carries the plan whose checks failed: name each.
    const plan = problem?.plan as { targets?: { target?: any; checks?: any[] }[] } | undefined;
    for (const t of plan?.targets ?? []) {
      for (const c of t.checks ?? []) {
        if (c && c.ok === false) {
          const figures = c.limit === undefined ? '' : ` (${c.used} now, ${c.after} after, limit ${c.limit})`;
          lines.push(`  ${t.target?.cluster ?? '?'}: ${c.check} on ${c.scope}${figures}`);
        }
      }
    }
    // The fields say more than the detail when there are several, or when the one differs.
    const repeats = fields.length === 1 && fields[0]!.message === detail;
    for (const f of repeats ? [] : fields)
      lines.push(`  ${f.path || '(body)'}${f.in ? ` (${f.in})` : ''}: ${f.message}`);
    super(lines.join('\n'), EXIT.API_ERROR);
    this.name = 'ApiProblemError';
  }
}

export class UnreachableError extends CliError {
  constructor(endpoint: string, cause: string) {
    super(`error ENDPOINT_UNREACHABLE: cannot reach ${endpoint}: ${cause}`, EXIT.UNREACHABLE);
    this.name = 'UnreachableError';
  }
}
