/**
 * A node under benchmark in a process of its own (`mec serve`, as `npm start` runs it), so the load
 * generator's JavaScript never shares its event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../services/core/config.ts';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
}

/** Starts `mec serve <args>` and resolves with its URL once it serves (60 s at most). */
export async function startServer(args: readonly string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin/mec.js'), 'serve', ...args], {
    // As `npm start` runs the node (see package.json): fewer glibc malloc arenas, less RSS.
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  for await (const line of lines) {
    const match = /serving on (http:\/\/\S+)/.exec(line);
    if (match) {
      clearTimeout(timer);
      return { child, url: match[1] as string };
    }
  }
  throw new Error('the node exited before it served');
}

/** Resident and peak memory of a process, MB. */
export function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}
