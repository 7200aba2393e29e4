/**
 * The record of a blueprint that `mec blueprint up` runs: <state-dir>/<name>.json {pid, urls,
 * startedAt}, written once it is up and read by `down` (and by a second `up`, which refuses to start
 * the same blueprint twice). Kept apart from blueprint-up.ts so that registering the commands does
 * not load the topology.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.ts';
import type { TopologyUrls } from '../topology/local-topology.ts';

export const DEFAULT_STATE_DIR = path.join(PROJECT_ROOT, 'var', 'blueprint');

export interface BlueprintState {
  name: string;
  file: string;
  pid: number;
  urls: TopologyUrls;
  startedAt: string;
}

export function stateFile(stateDir: string, name: string): string {
  return path.join(stateDir, `${name}.json`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An exited process its parent has not reaped yet (a zombie) still answers signal 0: it has stopped.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export async function readState(file: string): Promise<BlueprintState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BlueprintState;
  } catch {
    return undefined;
  }
}

