/**
 * `--endpoint` for a deployed hub: the binary signs each request with SigV4 for
 * `execute-api` from the standard credential chain (environment, or a named profile). A
 * stand-in for API Gateway here checks each signature by computing it again.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSha256 } from '#cli/sigv4';
import { shown, tempDir, tether } from './run-cli';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const KEYS = { AKIDENV: 'env-secret', AKIDPROFILE: 'profile-secret' } as Record<string, string>;
let server: Server;
let endpoint: string;
let received: Received[] = [];
let forbid = false;

/** Signs the request again, as API Gateway does, and says whether the signature matches. */
async function signatureHolds(req: Received): Promise<boolean> {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/execute-api\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
      auth,
    );
  if (!m) return false;
  // The payload hash the signature covers must be the body's.
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(req.body).digest('hex'))
    return false;
  const [, keyId, region, signed] = m;
  const url = new URL(req.url, endpoint);
  const headers: Record<string, string> = {};
  for (const name of signed!.split(';')) headers[name] = String(req.headers[name] ?? '');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const amzDate = String(req.headers['x-amz-date']);
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({
    service: 'execute-api',
    region: region!,
    sha256: NodeSha256,
    credentials: {
      accessKeyId: keyId!,
      secretAccessKey: KEYS[keyId!] ?? 'unknown',
      ...(req.headers['x-amz-security-token']
        ? { sessionToken: String(req.headers['x-amz-security-token']) }
        : {}),
    },
  });
  const again = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      ...(req.body ? { body: req.body } : {}),
    },
    { signingDate },
  );
  return again.headers.authorization === auth;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (forbid) {
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden"}');
        return;
      }
      const answer = req.url!.startsWith('/plans') ? { checks: [], targets: [] } : { items: [] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const noSharedFiles = () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config'), '');
  writeFileSync(join(dir, 'credentials'), '');
  return { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') };
};

describe('SigV4 signing', () => {
  it('signs GET with its query and POST with its body, with credentials from the environment', async () => {
    received = [];
    const env = {
      TETHER_ENDPOINT: endpoint,
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
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /links?status=ACTIVE', 'POST /plans']);
    for (const req of received) {
      expect(req.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDENV\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=\S*host;\S*x-amz-date/,
      );
      expect(req.headers['x-amz-security-token']).toBe('session-token');
      expect(await signatureHolds(req), req.headers.authorization).toBe(true);
    }
    expect(JSON.parse(received[1]!.body)).toEqual({ source: { accountId: '111111111111' }, targets: [] });
    // A body changed on the way would not match its signature.
    expect(await signatureHolds({ ...received[1]!, body: '{}' })).toBe(false);
  });

  it('takes a named profile of the shared credentials file (--profile)', async () => {
    received = [];
    const files = noSharedFiles();
    writeFileSync(
      files.AWS_SHARED_CREDENTIALS_FILE,
      '[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n',
    );
    const r = await tether(['--sign', '--region', 'ap-southeast-1', '--profile', 'ops', 'link', 'list'], {
      env: { TETHER_ENDPOINT: endpoint, ...files },
    });
    expect(r.code, shown(r)).toBe(0);
    expect(received[0]!.headers.authorization).toContain('Credential=AKIDPROFILE/');
    expect(await signatureHolds(received[0]!)).toBe(true);
  });

  it('does not sign a loopback endpoint unless asked (the local runtime does not authenticate)', async () => {
    received = [];
    const r = await tether(['link', 'list'], {
      env: { TETHER_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: 'x' },
    });
    expect(r.code, shown(r)).toBe(0);
    expect(received[0]!.headers.authorization).toBeUndefined();
  });

  it('without credentials: exit 2, and nothing is sent', async () => {
    received = [];
    const r = await tether(['--sign', '--region', 'eu-west-1', 'link', 'list'], {
      env: { TETHER_ENDPOINT: endpoint, ...noSharedFiles() },
    });
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toMatch(/^error: no AWS credentials to sign requests to http:\/\/127\.0\.0\.1:\d+ /);
    expect(received).toEqual([]);
  });

  it('API Gateway refusing the caller (403 without a problem document): exit 1 with HTTP_403', async () => {
    forbid = true;
    try {
      const r = await tether(['--sign', '--region', 'eu-west-1', 'link', 'list'], {
        env: {
          TETHER_ENDPOINT: endpoint,
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
