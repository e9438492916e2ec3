/**
 * A raw HTTP client for the fuzz suite: unlike `fetch`, it sends any method, the path exactly
 * as given (no URL normalisation of `..` or `%2F`), repeated headers and arbitrary body bytes.
 */
import { Agent, request } from 'node:http';

export interface FuzzRequest {
  /** What generated the request, to read counterexamples. */
  readonly kind: string;
  readonly method: string;
  /** Raw request target: path and query, already percent-encoded where needed. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
}

export interface FuzzResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** The parsed body when it is JSON, else `undefined`. */
  readonly json: unknown;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Sends one request to `baseUrl` (`http://host:port`). */
export function send(baseUrl: string, req: FuzzRequest): Promise<FuzzResponse> {
  const url = new URL(baseUrl);
  const body = req.body === undefined ? undefined : Buffer.from(req.body as string | Uint8Array);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: {
          ...(req.headers as Record<string, string | string[]>),
          ...(body === undefined ? {} : { 'content-length': String(body.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const type = String(res.headers['content-type'] ?? '');
          let json: unknown;
          if (/json/.test(type) && text !== '') {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Closes the client's kept-alive sockets. */
export function closeClient(): void {
  agent.destroy();
}
