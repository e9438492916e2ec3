/**
 * `--endpoint` for a deployed hub: the binary signs each request with SigV4 for
 * `execute-api` from the standard credential chain (environment, or a named profile). A
 * stand-in for API Gateway here checks each signature as AWS does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shown, tempDir, tether } from './run-cli';
import { recordingServer, verifySigV4 } from './sigv4-verify';

const SECRETS = { AKIDENV: 'env-secret', AKIDPROFILE: 'profile-secret' };
let hub: Awaited<ReturnType<typeof recordingServer>>;
let forbid = false;

beforeAll(async () => {
  hub = await recordingServer((req) => {
    if (forbid) return { status: 403, body: { message: 'Forbidden' } };
    return { status: 200, body: req.url.startsWith('/plans') ? { checks: [], targets: [] } : { items: [] } };
  });
});
afterAll(async () => {
  await hub?.close();
});

/** No shared config or credentials files: the chain sees only what a test gives it. */
const noSharedFiles = () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config'), '');
  writeFileSync(join(dir, 'credentials'), '');
  return { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') };
};

describe('SigV4 signing', () => {
  it('signs GET with its query and POST with its body, with credentials from the environment', async () => {
    hub.received.length = 0;
    const env = {
      TETHER_ENDPOINT: hub.url,
      AWS_ACCESS_KEY_ID: 'AKIDENV',
      AWS_SECRET_ACCESS_KEY: 'env-secret',
      AWS_SESSION_TOKEN: 'session-token',
      ...noSharedFiles(),
    };
    const list = await tether(['--sign', '--region', 'eu-west-1', 'link', 'list', '--status', 'ACTIVE'], {
      env,
    });
    expect(list.code, shown(list)).toBe(0);
    const plan = await tether(['--sign', '--region', 'eu-west-1', 'plan', '-f', '-', '-o', 'json'], {
      env,
      input: '{"source": {"accountId": "111111111111"}, "targets": []}',
    });
    expect(plan.code, shown(plan)).toBe(0);
    expect(hub.received.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /links?status=ACTIVE',
      'POST /plans',
    ]);
    for (const req of hub.received) {
      const verdict = verifySigV4(req, SECRETS);
      expect(verdict, verdict.why).toMatchObject({
        ok: true,
        keyId: 'AKIDENV',
        region: 'eu-west-1',
        service: 'execute-api',
      });
      expect(verdict.signedHeaders).toEqual(
        expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token']),
      );
      expect(req.headers['x-amz-security-token']).toBe('session-token');
    }
    expect(JSON.parse(hub.received[1]!.body)).toEqual({ source: { accountId: '111111111111' }, targets: [] });
    // A body or a query changed on the way no longer matches its signature.
    expect(verifySigV4({ ...hub.received[1]!, body: '{}' }, SECRETS).ok).toBe(false);
    expect(verifySigV4({ ...hub.received[0]!, url: '/links?status=FAILED' }, SECRETS).ok).toBe(false);
  });

  it('takes a named profile of the shared credentials file (--profile)', async () => {
    hub.received.length = 0;
    const files = noSharedFiles();
    writeFileSync(
      files.AWS_SHARED_CREDENTIALS_FILE,
      '[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n',
    );
    const r = await tether(['--sign', '--region', 'ap-southeast-1', '--profile', 'ops', 'link', 'list'], {
      env: { TETHER_ENDPOINT: hub.url, ...files },
    });
    expect(r.code, shown(r)).toBe(0);
    expect(verifySigV4(hub.received[0]!, SECRETS)).toMatchObject({ ok: true, keyId: 'AKIDPROFILE' });
  });

  it('does not sign a loopback endpoint unless asked (the local runtime does not authenticate)', async () => {
    hub.received.length = 0;
    const r = await tether(['link', 'list'], {
      env: { TETHER_ENDPOINT: hub.url, AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'env-secret' },
    });
    expect(r.code, shown(r)).toBe(0);
    expect(hub.received[0]!.headers.authorization).toBeUndefined();
  });

  it('without credentials: exit 2, and nothing is sent', async () => {
    hub.received.length = 0;
    const r = await tether(['--sign', '--region', 'eu-west-1', 'link', 'list'], {
      env: { TETHER_ENDPOINT: hub.url, ...noSharedFiles() },
    });
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toMatch(/^error: no AWS credentials to sign requests to http:\/\/127\.0\.0\.1:\d+ /);
    expect(hub.received).toEqual([]);
  });

  it('API Gateway refusing the caller (403 without a problem document): exit 1 with HTTP_403', async () => {
    forbid = true;
    try {
      const r = await tether(['--sign', '--region', 'eu-west-1', 'link', 'list'], {
        env: {
          TETHER_ENDPOINT: hub.url,
          AWS_ACCESS_KEY_ID: 'AKIDENV',
          AWS_SECRET_ACCESS_KEY: 'env-secret',
          ...noSharedFiles(),
        },
      });
      expect(r.code, shown(r)).toBe(1);
      expect(r.stderr).toBe('error HTTP_403: Forbidden\n');
    } finally {
      forbid = false;
    }
  });
});
