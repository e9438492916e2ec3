/**
 * The generic catalog example (catalog/generic/create-link.sh: curl with --aws-sigv4): its
 * request is a valid `POST /links`, its call is signed for execute-api as API Gateway checks
 * it, a refusal makes it fail with the problem printed, and against the local runtime the
 * link it asks for is made.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiRouter } from '#api/openapi/router';
import { startHarness } from '../../e2e/harness';
import { cleanEnv } from '../../cli/run-cli';
import { recordingServer, verifySigV4 } from '../../cli/sigv4-verify';
import { apiEvent } from '../api/api-events';

const SCRIPT = fileURLToPath(new URL('../../../catalog/generic/create-link.sh', import.meta.url));
const REQUEST = fileURLToPath(new URL('../../../catalog/generic/request.json', import.meta.url));
const CREDENTIALS = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDCATALOG',
  AWS_SECRET_ACCESS_KEY: 'catalog-secret',
  AWS_SESSION_TOKEN: 'catalog-session',
};

function runScript(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, REQUEST], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let refuse = false;
let hub: Awaited<ReturnType<typeof recordingServer>>;

beforeAll(async () => {
  hub = await recordingServer(() =>
    refuse
      ? {
          status: 409,
          body: { code: 'LINK_SPEC_MISMATCH', title: 'The workload is already linked', status: 409 },
        }
      : { status: 202, body: { requestId: 'req_1', links: [] } },
  );
});
afterAll(async () => {
  await hub?.close();
});

describe('catalog/generic', () => {
  it('request.json is a valid POST /links', () => {
    const body = JSON.parse(readFileSync(REQUEST, 'utf8'));
    expect(() => loadApiRouter().match(apiEvent('POST', '/links', { body }))).not.toThrow();
  });

  it('create-link.sh POSTs it to /links, signed with SigV4 for execute-api', async () => {
    hub.received.length = 0;
    const r = await runScript({
      TETHER_ENDPOINT: `${hub.url}/`,
      ...CREDENTIALS,
      IDEMPOTENCY_KEY: 'catalog-1',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ requestId: 'req_1', links: [] });
    const [req] = hub.received;
    expect(`${req?.method} ${req?.url}`).toBe('POST /links');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['idempotency-key']).toBe('catalog-1');
    expect(req!.headers['x-amz-security-token']).toBe('catalog-session');
    const verdict = verifySigV4(req!, { AKIDCATALOG: 'catalog-secret' });
    expect(verdict, verdict.why).toMatchObject({ ok: true, region: 'eu-west-1', service: 'execute-api' });
    expect(JSON.parse(req!.body)).toEqual(JSON.parse(readFileSync(REQUEST, 'utf8')));
  });

  it('fails with the problem printed when the API refuses the request', async () => {
    refuse = true;
    try {
      const r = await runScript({ TETHER_ENDPOINT: hub.url, ...CREDENTIALS });
      expect(r.code).not.toBe(0);
      expect(JSON.parse(r.stdout).code).toBe('LINK_SPEC_MISMATCH');
    } finally {
      refuse = false;
    }
  });

  it('says what is missing without credentials, and sends nothing', async () => {
    hub.received.length = 0;
    const r = await runScript({ TETHER_ENDPOINT: hub.url, AWS_REGION: 'eu-west-1' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('AWS_ACCESS_KEY_ID');
    expect(hub.received).toEqual([]);
  });

  it('makes the link against the local runtime (which takes the signed call as it is)', async () => {
    const h = await startHarness();
    try {
      const r = await runScript({ TETHER_ENDPOINT: h.rt.url, ...CREDENTIALS });
      expect(r.code, r.stderr).toBe(0);
      const answer = JSON.parse(r.stdout);
      expect(answer.links).toHaveLength(1);
      expect((await h.settle(answer.links[0].id)).status).toBe('ACTIVE');
    } finally {
      await h.close();
    }
  });
});
