/** The command line in-process: what is refused before anything is sent (exit 2), help and version (exit 0). */
import { describe, expect, it } from 'vitest';
import { isLoopback, problemOf } from '#cli/client';
import { parseDuration } from '#cli/context';
import { EXIT } from '#cli/exit-codes';
import { run } from '#cli/program';
import { regionOfHost } from '#cli/sigv4';
import { memoryIo } from './io';

/** An endpoint nothing listens on: a usage error must be found before any request. */
const NOWHERE = { TETHER_ENDPOINT: 'http://127.0.0.1:9' };

async function cli(args: string[], env: NodeJS.ProcessEnv = NOWHERE) {
  const io = memoryIo(env);
  const code = await run(args, io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('usage errors exit 2 before anything is sent', () => {
  it.each([
    [['link', 'create'], /the request needs --source/],
    [['link', 'create', '--network', 'maybe'], /argument 'maybe' is invalid/],
    [['link', 'create', '--wait', '--timeout', 'soon'], /expected a duration/],
    [['link', 'get', 'lnk_nope'], /"lnk_nope" is not a link id/],
    [['link', 'get'], /missing required argument 'id'/],
    [['link', 'runs', 'x', 'y'], /too many arguments/],
    [['link', 'list', '--limit', '0'], /expected a whole number above 0/],
    [['link', 'list', '--status', 'GONE'], /Allowed choices are AWAITING_APPROVAL, PENDING, /],
    [['link', 'list', '-o', 'xml'], /Allowed choices are table, json, yaml/],
    [['link', 'kubeconfig', 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5', '--set-context'], /go with --merge/],
    [['link', 'nope'], /unknown command 'nope'/],
    [['nope'], /unknown command 'nope'/],
    [['link'], /Usage: tether link/],
    [['--endpoint', 'not a url', 'link', 'list'], /--endpoint must be a URL/],
    [['--endpoint', 'ftp://host', 'link', 'list'], /--endpoint must be an http or https URL/],
    [['--caller', 'alice', 'link', 'list'], /expected an IAM or STS principal ARN/],
    [
      ['--caller', 'arn:aws:iam::111111111111:role/dev', 'link', 'approve', 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5'],
      /required option '--reason <text>' not specified/,
    ],
    // A hub knows its caller from the signature: naming one there is refused, and nothing is sent.
    [
      [
        '--endpoint',
        'https://abc123.execute-api.eu-west-1.amazonaws.com',
        '--caller',
        'arn:aws:iam::111111111111:role/dev',
        'link',
        'list',
      ],
      /--caller names the caller for the local runtime only; abc123\.execute-api\.eu-west-1\.amazonaws\.com knows its caller from the SigV4 signature/,
    ],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  // The kubeconfig check happens after the read; the endpoint answers nothing here, so it is exit 4.
  it('an endpoint that does not answer is exit 4, not a usage error', async () => {
    const r = await cli(['link', 'get', 'lnk_01J9Z8Q4V6X2C3B5N7M9K1H3G5']);
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.stderr).toMatch(/^error ENDPOINT_UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:9: /);
  });

  it('a signed endpoint needs a region to sign for', async () => {
    const r = await cli(['--endpoint', 'https://tether.example.com', 'link', 'list'], {});
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/cannot tell which region to sign requests to tether\.example\.com for/);
  });
});

describe('help and version exit 0', () => {
  it('--help, -h, help link, --version', async () => {
    for (const args of [['--help'], ['-h'], ['help', 'link'], ['link', 'create', '--help']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(EXIT.OK);
      expect(r.stdout).toMatch(/^Usage: tether/);
    }
    const v = await cli(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });

  it('the exit codes are in --help, as documented', async () => {
    const r = await cli(['--help']);
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 {2}ok\n {2}1 {2}the API answered with an error/);
  });
});

describe('helpers', () => {
  it('parseDuration', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('90s'),
      parseDuration('10m'),
      parseDuration('1h'),
      parseDuration('2'),
    ]).toEqual([500, 90_000, 600_000, 3_600_000, 2000]);
    expect(() => parseDuration('10 minutes')).toThrow(/expected a duration/);
  });

  it('signs every endpoint but loopback; the hub host names the region', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '[::1]', 'api.localhost'].every(isLoopback)).toBe(true);
    expect(
      ['10.0.0.1', 'abc.execute-api.eu-west-1.amazonaws.com', 'tether.example.com'].some(isLoopback),
    ).toBe(false);
    expect(regionOfHost('abc123.execute-api.eu-west-1.amazonaws.com')).toBe('eu-west-1');
    expect(regionOfHost('abc123.execute-api.us-gov-west-1.amazonaws.com')).toBe('us-gov-west-1');
    expect(regionOfHost('tether.example.com')).toBeUndefined();
  });

  it('problemOf: the problem’s code and fields, or HTTP_<status> for API Gateway’s own answers', () => {
    const p = problemOf(
      400,
      {
        code: 'VALIDATION_FAILED',
        detail: 'a (and 1 more problem)',
        errors: [
          { path: '/a', in: 'body', message: 'a' },
          { path: '/b', in: 'body', message: 'b' },
        ],
      },
      '',
    );
    expect(p.exitCode).toBe(EXIT.API_ERROR);
    expect(p.message).toBe('error VALIDATION_FAILED: a (and 1 more problem)\n  /a (body): a\n  /b (body): b');
    expect(
      problemOf(400, { code: 'VALIDATION_FAILED', detail: 'a', errors: [{ path: '/a', message: 'a' }] }, '')
        .message,
    ).toBe('error VALIDATION_FAILED: a');
    expect(problemOf(403, { message: 'Forbidden' }, '').message).toBe('error HTTP_403: Forbidden');
    expect(problemOf(502, 'Bad gateway', 'Bad gateway').message).toBe('error HTTP_502: Bad gateway');
  });
});
