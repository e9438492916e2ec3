/**
 * Starts and stops moto's server (the AWS emulator shipped with this machine image's
 * python) for the conformance suite: `python3 -m moto.server -H 127.0.0.1 -p PORT` on a
 * free loopback port, in its own process group so stopping it ends every child.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** Whether moto can run here, and why not when it cannot. */
export interface MotoAvailability {
  readonly available: boolean;
  readonly reason: string;
}

/** A running moto server. */
export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  /** Forgets every resource in every account (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server (its whole process group). */
  stop(): Promise<void>;
}

const PYTHON = process.env.TETHER_PYTHON ?? 'python3';

/** True if `python3 -c "import moto"` works within a few seconds. */
export function motoAvailable(): MotoAvailability {
  const probe = spawnSync(PYTHON, ['-c', 'import moto, sys; sys.stdout.write(moto.__version__)'], {
    timeout: 10_000,
    encoding: 'utf8',
  });
  if (probe.error) return { available: false, reason: `${PYTHON} cannot run: ${probe.error.message}` };
  if (probe.status !== 0) {
    const detail = (probe.stderr ?? '').trim().split('\n').pop() ?? `exit ${String(probe.status)}`;
    return { available: false, reason: `${PYTHON} -c "import moto" failed: ${detail}` };
  }
  return { available: true, reason: `moto ${probe.stdout.trim()} on ${PYTHON}` };
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Starts moto's server and waits until it answers. */
export async function startMoto(timeoutMs = 30_000): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // MOTO_ACCOUNT_ID would pin every request to one account: the suite picks accounts per request.
  const env = { ...process.env };
  delete env.MOTO_ACCOUNT_ID;
  const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`moto did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr}`);
    }
    await sleep(100);
  }

  return {
    endpoint,
    port,
    reset: async () => {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    stop: async () => {
      killGroup(child, 'SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      killGroup(child, 'SIGKILL');
    },
  };
}
