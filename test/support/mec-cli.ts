/**
 * Runs the `mec` command as a user does (node bin/mec.js ARGS) and returns its exit code and output,
 * whatever the code: the tests judge exit codes, so a non-zero one is an outcome, not an error.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../services/core/config.ts';

const run = promisify(execFile);

export const MEC_BIN = path.join(PROJECT_ROOT, 'bin', 'mec.js');

export interface MecOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export interface MecRunOptions {
  /** Default: the project root. */
  cwd?: string;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

export async function runMec(args: readonly string[], options: MecRunOptions = {}): Promise<MecOutcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MEC_BIN, ...args], {
      cwd: options.cwd ?? PROJECT_ROOT,
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
