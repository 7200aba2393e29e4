/**
 * `mec models|train|eval|bench` as an operator runs them: real child processes of bin/mec.js (the
 * compiled dist/ after `npm run -s build`) that run the real scripts, their output and exit codes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMec, type MecOutcome } from '../support/mec-cli.ts';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { BENCHMARKS, commandLine, LongWorkUnavailable } from '../../services/cli/long-work.ts';


function mec(...args: string[]): Promise<MecOutcome> {
  return runMec(args, { cwd: tmpdir(), env: { NO_PROGRESS: '1' } });
}

describe('mec models verify', () => {
  it('runs the sha256 check of the repository from any folder and exits 0', async () => {
    const outcome = await mec('models', 'verify');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/^ok {7}centernet {2}[0-9a-f]{64}$/m);
    expect(outcome.stdout).toMatch(/^\d+ ok, 0 failed$/m);
  });

  it('BAD CALL - passes its argument through and exits with the script\'s code: an empty repository is 1', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'mec-empty-repository-'));
    try {
      const outcome = await mec('models', 'verify', empty);
      expect(outcome.code).toBe(1);
      expect(outcome.stderr).toContain(`no model cards under ${empty}`);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('mec bench', () => {
  it('BAD CALL - an unknown benchmark exits 2 and lists the choices', async () => {
    const outcome = await mec('bench', 'nope');
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain("'nope' is invalid");
    expect(outcome.stderr).toContain('Allowed choices are vision, inspect, asr, placement, reload, batching');
  });

  it('every benchmark is a script of bench/ that exists', () => {
    for (const { target } of Object.values(BENCHMARKS)) {
      const { file, argv } = commandLine(target, ['--x']);
      expect(file).toBe(process.execPath);
      expect(argv.at(-2)).toBe(path.join(PROJECT_ROOT, target.script));
      expect(argv.at(-1)).toBe('--x');
    }
  });
});

describe('help', () => {
  it('mec eval --help exits 0 and describes its subcommands', async () => {
    const outcome = await mec('eval', '--help');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/inspect \[args\.\.\.\]\s+the defect model on the held-out frames/);
    expect(outcome.stdout).toMatch(/asr \[args\.\.\.\]\s+our recogniser vs pocketsphinx/);
  });

  it('mec eval inspect --help says what it runs, how long, where results go, and the exit codes', async () => {
    const outcome = await mec('eval', 'inspect', '--help');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toContain('Runs: tsx models/inspect/eval.ts [args...]');
    expect(outcome.stdout).toContain('a few minutes');
    expect(outcome.stdout).toContain('Results go to stdout');
    expect(outcome.stdout).toContain('Exit codes: 0 done, 1 the work failed');
  });

  it('mec --help lists the long work', async () => {
    const outcome = await mec('--help');
    expect(outcome.code).toBe(0);
    for (const command of ['models', 'train', 'eval', 'bench <benchmark> [args...]']) expect(outcome.stdout).toContain(`  ${command} `);
  });
});

describe('missing pieces', () => {
  it('BAD CALL - a script that is not installed (a slim image) is unavailable, with what is missing', () => {
    expect(() => commandLine({ runner: 'tsx', script: 'models/not-shipped.ts' }, [])).toThrow(LongWorkUnavailable);
    expect(() => commandLine({ runner: 'tsx', script: 'models/not-shipped.ts' }, [])).toThrow(/models\/not-shipped\.ts is not in .*slim image/);
  });

  it('BAD CALL - a python module that is not installed is named before anything runs', () => {
    expect(() => commandLine({ runner: 'python', script: 'models/asr/train.py', pythonModules: ['numpy', 'no_such_module_mec'] }, [])).toThrow(/cannot import no_such_module_mec/);
  });

  it('python scripts get their default arguments first, so the caller\'s win', () => {
    const { file, argv } = commandLine({ runner: 'python', script: 'models/asr/train.py', defaultArgs: ['--data', 'models/asr/data'] }, ['--data', '/tmp/d']);
    expect(file).toBe('/usr/bin/python3');
    expect(argv).toEqual([path.join(PROJECT_ROOT, 'models/asr/train.py'), '--data', 'models/asr/data', '--data', '/tmp/d']);
  });
});
