// Starts a real redis-server on a free loopback port for tests; it can be stopped and started again on the same port.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** Starts the server (again) on the same port and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops the server and waits until the process has exited. */
  stop(): Promise<void>;
}

/** Fails loudly when redis-server is not installed: these tests must not be skipped silently. */
export function assertRedisInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server is not installed (needed by the Redis cache tests): apt-get update && apt-get install -y redis-server',
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

/** Starts redis-server on a free 127.0.0.1 port (no persistence). */
export async function startRedis(): Promise<RedisServer> {
  assertRedisInstalled();
  const port = await freePort();
  let child: ChildProcess | null = null;
  let stderr = '';

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.running) return;
      stderr = '';
      const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = proc;
      proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const failed = new Promise<never>((_, reject) => {
        proc.once('error', (err) => reject(new Error(`redis-server failed to start: ${err.message}`)));
        proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr}`)));
      });
      failed.catch(() => {});
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        await Promise.race([new Promise((r) => setTimeout(r, 50)), failed]);
        if (await ping(port)) return;
      }
      proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s: ${stderr}`);
    },
    async stop() {
      const proc = child;
      if (!proc || !server.running) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
      });
    },
  };
  await server.start();
  return server;
}
