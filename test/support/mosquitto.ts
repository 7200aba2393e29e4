/**
 * A private Mosquitto broker for fault tests (stop it, start it again on the same port) without
 * disturbing the shared one on 1883. Needs the mosquitto binary (apt-get install mosquitto).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const BINARY = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((candidate) => existsSync(candidate));

export interface PrivateBroker {
  url: string;
  port: number;
  start(): Promise<void>;
  /** SIGKILL: the broker vanishes without saying goodbye, as a crashed one does. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function answers(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`private mosquitto on port ${port} did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a broker on a free port; `settings` are extra mosquitto.conf lines (its `listener` is ours). */
export async function privateBroker(settings: readonly string[] = []): Promise<PrivateBroker> {
  if (BINARY === undefined) throw new Error('mosquitto is not installed: apt-get install -y mosquitto (the fault tests start a private broker)');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mec-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  // Running as root, mosquitto would switch to the "mosquitto" user; stay who we are.
  const own = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', ...(process.getuid?.() === 0 ? ['user root'] : [])];
  // Our own lines win: the listener is this port, and no comments or duplicate keys reach the file.
  const extra = settings.filter((line) => /^\s*\w/.test(line) && !/^\s*(listener|log_dest|user|allow_anonymous|persistence)\b/.test(line));
  writeFileSync(conf, [...own, ...extra].join('\n') + '\n');
  let child: ChildProcess | undefined;
  const broker: PrivateBroker = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn(BINARY, ['-c', conf], { stdio: 'ignore' });
      await answers(port, 5000);
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
    async close() {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
