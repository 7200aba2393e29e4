/**
 * `mec models|train|eval|bench ...`: the long work (model conversion, training, evaluations,
 * benchmarks) behind one command, so `mec --help` lists it. Each runs the same script as its npm
 * script (package.json), as a child process from the project folder with the terminal handed over:
 * its tables on stdout, its progress on stderr (services/cli/progress.ts, models/progress.py), its
 * exit code ours. The scripts live in models/ and bench/, which a slim image may not ship: then, or
 * when python3 or torch is missing, it says what is missing and exits 3.
 */
import { Argument, type Command } from 'commander';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../core/config.ts';
import { EXIT_CODES_HELP, EXIT_FAILURE, EXIT_UNAVAILABLE } from './exit-codes.ts';

const PYTHON = '/usr/bin/python3';

/** A script the long work runs: TypeScript through tsx, or a training script on Debian's python3. */
export interface LongWorkTarget {
  runner: 'tsx' | 'python';
  /** Relative to the project folder. */
  script: string;
  /** Node flags before the script (bench:reload needs --expose-gc). */
  nodeFlags?: readonly string[];
  /** Arguments before the user's; argparse keeps the last of a repeated option, so the user's win. */
  defaultArgs?: readonly string[];
  /** Python modules the script imports, checked first so a missing one is a clear message, not a traceback. */
  pythonModules?: readonly string[];
}

export class LongWorkUnavailable extends Error {}

const TSX_LOADER = path.join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** The program and arguments that run `target` with the user's `args`; throws LongWorkUnavailable when something is missing. */
export function commandLine(target: LongWorkTarget, args: readonly string[]): { file: string; argv: string[] } {
  const script = path.join(PROJECT_ROOT, target.script);
  if (!existsSync(script)) {
    throw new LongWorkUnavailable(`${target.script} is not in ${PROJECT_ROOT}: this installation has no model and benchmark sources (a slim image); run it from a clone of the repository`);
  }
  const argv = [...(target.defaultArgs ?? []), ...args];
  if (target.runner === 'tsx') {
    if (!existsSync(TSX_LOADER)) throw new LongWorkUnavailable(`tsx is not installed in ${PROJECT_ROOT}/node_modules (run npm ci)`);
    return { file: process.execPath, argv: ['--import', pathToFileURL(TSX_LOADER).href, ...(target.nodeFlags ?? []), script, ...argv] };
  }
  if (!existsSync(PYTHON)) throw new LongWorkUnavailable(`${PYTHON} is missing: the training scripts run on Debian's python3 (apt-get install python3 python3-numpy python3-torch)`);
  const modules = target.pythonModules ?? [];
  if (modules.length > 0) {
    const check = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
    if (check.status !== 0) {
      const missing = /No module named '([^']+)'/.exec(check.stderr)?.[1] ?? modules.join(', ');
      throw new LongWorkUnavailable(`${PYTHON} cannot import ${missing}: ${target.script} needs ${modules.join(', ')} (apt-get install ${modules.map((name) => `python3-${name === 'PIL' ? 'pil' : name}`).join(' ')})`);
    }
  }
  return { file: PYTHON, argv: [script, ...argv] };
}

/** Runs the target with the terminal handed over and resolves with its exit code (128 + signal when killed). */
export function runLongWork(target: LongWorkTarget, args: readonly string[]): Promise<number> {
  const { file, argv } = commandLine(target, args);
  return new Promise((resolve) => {
    const child = spawn(file, argv, { cwd: PROJECT_ROOT, stdio: 'inherit' });
    // Ctrl-C reaches the child from the terminal; we stay to report how it ended. A SIGTERM sent to us alone is passed on.
    const onInterrupt = () => {};
    const onTerminate = () => child.kill('SIGTERM');
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onTerminate);
    const done = (code: number) => {
      process.removeListener('SIGINT', onInterrupt);
      process.removeListener('SIGTERM', onTerminate);
      resolve(code);
    };
    child.on('error', (error) => {
      process.stderr.write(`mec: cannot start ${file}: ${error.message}\n`);
      done(EXIT_UNAVAILABLE);
    });
    child.on('exit', (code, signal) => {
      if (code !== null) done(code);
      else done(signal && constants.signals[signal] ? 128 + constants.signals[signal] : EXIT_FAILURE);
    });
  });
}

async function runAndExit(target: LongWorkTarget, args: readonly string[]): Promise<void> {
  let code: number;
  try {
    code = await runLongWork(target, args);
  } catch (error) {
    if (!(error instanceof LongWorkUnavailable)) throw error;
    process.stderr.write(`mec: ${error.message}\n`);
    code = EXIT_UNAVAILABLE;
  }
  process.exit(code);
}

const PASS_THROUGH = '\nArguments after the command go to the script as they are (use -- before a --help meant for it).';
const OUTPUT = '\nResults go to stdout (tables, lines), progress to stderr: a bar on a terminal, plain lines otherwise (NO_PROGRESS=1 or CI=true: always lines).';

/** One command that runs a long-work target with everything after it passed through. */
function addLongWork(parent: Command, name: string, description: string, target: LongWorkTarget, details: string): Command {
  return parent
    .command(name)
    .description(description)
    .argument('[args...]', `passed to ${target.script}`)
    .allowUnknownOption()
    .addHelpText('after', `\nRuns: ${target.runner === 'tsx' ? 'tsx' : PYTHON} ${target.script}${target.defaultArgs?.length ? ` ${target.defaultArgs.join(' ')}` : ''} [args...]\n${details}${PASS_THROUGH}${OUTPUT}${EXIT_CODES_HELP}`)
    .action((args: string[]) => runAndExit(target, args));
}

/** The benchmarks (bench/*.ts): name, what it measures and how long it takes. */
export const BENCHMARKS: Record<string, { target: LongWorkTarget; about: string }> = {
  vision: { target: { runner: 'tsx', script: 'bench/vision.ts' }, about: 'CenterNet: raw session vs in-process pipeline vs a node over HTTP at concurrency 1/4/16, health probe, RSS; ~1.5 min (BENCH_SECONDS=8 per phase)' },
  inspect: { target: { runner: 'tsx', script: 'bench/inspect.ts' }, about: 'defect model in-process, then 4 simulated cameras over MQTT and WebSocket at rising frame rates; ~2 min (BENCH_SECONDS=10 per rate)' },
  asr: { target: { runner: 'tsx', script: 'bench/asr.ts' }, about: 'speech: the models alone, the transcribe task, POST /v1/asr, live WebSocket streams; a few minutes (BENCH_SECONDS per step)' },
  placement: { target: { runner: 'tsx', script: 'bench/placement.ts' }, about: 'placement policies side by side: measured compute, a discrete-event simulation, then a real emulated topology; ~7 min (BENCH_QUICK=1, BENCH_REAL=0 shorten it)' },
  reload: { target: { runner: 'tsx', script: 'bench/reload.ts', nodeFlags: ['--expose-gc'] }, about: 'memory over 100 load/unload and v1<->v2 reload cycles, then requests during hot reloads; several minutes (--cycles, --reloads)' },
  batching: { target: { runner: 'tsx', script: 'bench/batching.ts' }, about: 'dynamic batching: maxBatchSize 1 vs 4 vs 8 under the same closed-loop load; ~1 min (--clients, --requests, --rounds)' },
  overload: { target: { runner: 'tsx', script: 'bench/overload.ts' }, about: 'admitted latency at 3x overload for several node settings side by side, slowest 1% broken down; ~8 min (--rounds, --overload-seconds, --only)' },
};

export function registerLongWorkCommands(program: Command): void {
  const models = program.command('models').description('the model repository (models/repository): check its files, convert the TF.js originals to ONNX');
  addLongWork(
    models,
    'verify',
    'check every ONNX file in the model repository against the sha256 in its card (a second or two)',
    { runner: 'tsx', script: 'models/convert/verify-sha.ts' },
    'Optional argument: another repository folder. Prints "ok NAME SHA" per model and a count; exit 1 on a mismatch or a missing file.',
  );
  addLongWork(
    models,
    'convert',
    'convert the TF.js originals (models/tfjs) to ONNX in models/repository/<name>/1 and write each card (seconds per model; --verify adds the TF.js vs onnxruntime check, about a minute)',
    { runner: 'tsx', script: 'models/convert/cli.ts' },
    'Arguments: model names (default: all of models/convert/catalogue.ts) and --verify. Prints one line per model (size, sha256, time); exit 1 when --verify finds an output out of tolerance.',
  );

  const train = program.command('train').description('train a model from nothing on Debian\'s python3 + torch (minutes; writes into models/repository)');
  addLongWork(
    train,
    'inspect',
    'train the defect-inspection net: data, training, validation thresholds, ONNX export and card into models/repository/defect (~14 min on 2 cores)',
    { runner: 'python', script: 'models/inspect/train.py', pythonModules: ['numpy', 'torch', 'PIL'] },
    'Data are generated and cached in /tmp/inspect-cache; see models/inspect/README.md for its options (--seed, --crop-steps, --out ...).',
  );
  addLongWork(
    train,
    'asr',
    'train the speech recogniser (CTC) on the corpus in models/asr/data and export it to models/repository/asr (25 min budget, --minutes)',
    { runner: 'python', script: 'models/asr/train.py', defaultArgs: ['--data', 'models/asr/data', '--out', 'models/repository/asr'], pythonModules: ['numpy', 'torch'] },
    'The corpus comes first (synth.py, then features.ts): `bash models/asr/build.sh` does every step, about an hour (models/asr/README.md). Prints a line per epoch and writes training.json beside the model.',
  );

  const evaluate = program.command('eval').description('evaluate the served models on held-out data, through the service\'s own tasks (minutes; tables on stdout)');
  addLongWork(
    evaluate,
    'inspect',
    'the defect model on the held-out frames (heldout.py) and on the camera simulator\'s frames: AUROC, accuracy, false alarms, detection and localisation per surface and defect type (a few minutes)',
    { runner: 'tsx', script: 'models/inspect/eval.ts' },
    'Options: --per-surface N (200), --simulator N (100), --model NAME, --out DIR (keep the frames), --json FILE (figures as JSON). Needs python3 with numpy and PIL for the renderer.',
  );
  addLongWork(
    evaluate,
    'asr',
    'our recogniser vs pocketsphinx on held-out synthetic and real speech: word error rate, sentence accuracy, real-time factor, confusions (minutes; synthesises the test set first when missing)',
    { runner: 'tsx', script: 'models/asr/eval.ts' },
    'Options: --data DIR (models/asr/data), --limit N, --json FILE, --model NAME, --peer-defaults, --peer-only.',
  );

  const names = Object.keys(BENCHMARKS);
  program
    .command('bench')
    .description('run a benchmark (bench/*.ts): side-by-side figures in one run, Markdown tables on stdout')
    .addArgument(new Argument('<benchmark>', 'which benchmark').choices(names))
    .argument('[args...]', 'passed to the benchmark script')
    .allowUnknownOption()
    .addHelpText('after', `\nBenchmarks:\n${names.map((name) => `  ${name.padEnd(10)} ${BENCHMARKS[name]!.about}`).join('\n')}\nSettings are environment variables (BENCH_SECONDS ...) or arguments, as each script's header says; the machine is shared, so compare the ratios.${PASS_THROUGH}${OUTPUT}${EXIT_CODES_HELP}`)
    .action((name: string, args: string[]) => runAndExit(BENCHMARKS[name]!.target, args));
}
