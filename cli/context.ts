/** What every command shares: the global options, the API client, option helpers. */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { TetherClient } from './client';
import { type Io, OUTPUT_FORMATS } from './output';

export const VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

/** The options every command takes (given before or after the subcommand). */
export interface GlobalOptions {
  readonly endpoint: string;
  readonly region?: string;
  readonly profile?: string;
  readonly sign?: boolean;
  readonly caller?: string;
  readonly color: boolean;
  readonly pollInterval: number;
  readonly requestTimeout: number;
}

/** What a command's action gets: the streams, the client and how to write. */
export interface Context {
  readonly io: Io;
  readonly globals: GlobalOptions;
  client(): TetherClient;
}

/** `500ms`, `90s`, `10m`, `1h`, or a number of seconds → milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 90s, 10m or 500ms');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}

/** `--caller`: an IAM or STS principal ARN, as the local runtime takes it in `x-tether-caller`. */
export function parseCallerArn(value: string): string {
  if (!/^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$/.test(value)) {
    throw new InvalidArgumentError(
      'expected an IAM or STS principal ARN such as arn:aws:iam::222222222222:role/cluster-owner',
    );
  }
  return value;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/** `--wait`'s companions on the commands that start a workflow. */
export function timeoutOption(): Option {
  return new Option('--timeout <duration>', 'how long to wait (90s, 10m, …)')
    .argParser(parseDuration)
    .default(600_000, '10m');
}

/** The global options, wherever they were given. */
export function contextOf(io: Io, cmd: Command): Context {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  let client: TetherClient | undefined;
  return {
    io,
    globals: g,
    client() {
      client ??= new TetherClient({
        endpoint: g.endpoint,
        ...(g.sign === undefined ? {} : { sign: g.sign }),
        ...(g.region ? { region: g.region } : {}),
        ...(g.profile ? { profile: g.profile } : {}),
        ...(g.caller ? { caller: g.caller } : {}),
        env: io.env,
        requestTimeoutMs: g.requestTimeout,
        userAgent: `tether-cli/${VERSION}`,
      });
      return client;
    },
  };
}
