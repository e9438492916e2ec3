/**
 * A stand-in for API Gateway's IAM authorization in tests: it checks a request's SigV4
 * signature the way AWS does (Signature Version 4 signing process: canonical request over
 * the signed headers, string to sign, derived key), with the secret of a known key id.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding, as SigV4 wants it. */
const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

export interface Verdict {
  readonly ok: boolean;
  readonly why: string;
  readonly keyId?: string;
  readonly region?: string;
  readonly service?: string;
  readonly signedHeaders?: readonly string[];
}

/** Checks the request's signature with `secrets` (key id → secret access key). */
export function verifySigV4(req: ReceivedRequest, secrets: Record<string, string>): Verdict {
  const auth = String(req.headers.authorization ?? '');
  const m = AUTH.exec(auth);
  if (!m) return { ok: false, why: `no SigV4 Authorization header: "${auth}"` };
  const [, keyId, date, region, service, signed, signature] = m as unknown as string[];
  const secret = secrets[keyId!];
  if (!secret) return { ok: false, why: `unknown key id ${keyId}` };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) return { ok: false, why: 'x-amz-date does not match the credential scope' };
  const bodyHash = sha256(req.body);
  const declared = req.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== bodyHash)
    return { ok: false, why: 'the body does not match its hash' };

  const url = new URL(req.url, 'http://host');
  const path = url.pathname
    .split('/')
    .map((seg) => encode(seg))
    .join('/');
  const query = [...url.searchParams]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signed!.split(';');
  if (!names.includes('host')) return { ok: false, why: 'host is not signed' };
  const headers = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [req.method, path, query, headers, signed, declared ?? bodyHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return {
    ok: expected === signature,
    why: expected === signature ? 'signature holds' : 'signature does not match',
    keyId: keyId!,
    region: region!,
    service: service!,
    signedHeaders: names,
  };
}

/** An HTTP server that records every request and answers with `answer`. */
export async function recordingServer(
  answer: (req: ReceivedRequest) => { status: number; body: unknown },
): Promise<{ url: string; received: ReceivedRequest[]; server: Server; close(): Promise<void> }> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body };
      received.push(r);
      const { status, body: out } = answer(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
