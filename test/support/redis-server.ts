/**
 * A durable redis-server of a test's own: AOF on (appendfsync everysec), noeviction, no RDB
 * snapshots, on a free port in a temp dir. It can be killed (SIGKILL or SIGTERM), frozen (SIGSTOP)
 * and thawed (SIGCONT), and restarted on the same port and dir, where it reloads its AOF.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  pid(): number | undefined;
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  freeze(): void;
  thaw(): void;
  /** Starts again on the same port and dir (after stop); resolves once it answers PING. */
  restart(): Promise<void>;
  /** Stops it (SIGKILL, thawing first) and removes its dir. Idempotent. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** PING over a raw socket: no client library, no reconnect logic between the test and the server. */
async function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function startRedisServer(options: { port?: number } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mec-redis-'));
  let child: ChildProcess | undefined;
  let disposed = false;

  const launch = async () => {
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--save', '', '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')],
      { stdio: 'ignore' },
    );
    child = started;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode} (log: ${path.join(dir, 'redis.log')})`);
      if (await pong(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`redis-server on port ${port} did not answer within 10 s`);
  };

  const stop = async (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    // A frozen process cannot act on SIGTERM: let it run again first.
    if (signal === 'SIGTERM') running.kill('SIGCONT');
    running.kill(signal);
    await exited;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => child?.pid,
    stop,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    restart: async () => {
      await stop('SIGKILL');
      await launch();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      child?.kill('SIGCONT');
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
