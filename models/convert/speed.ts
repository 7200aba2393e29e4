/**
 * npx tsx models/convert/speed.ts [-- options] [model...]
 * Inference time of the converted models on a real photo (test/fixtures/images/dog.jpg), with
 * onnxruntime-node as the services run it (graph optimisation 'all'). The machine is shared,
 * so absolute times drift: every model is timed side by side against a reference in the same
 * loop (runs alternate between them) and the table gives the ratio to that reference.
 *
 *   --runs N             timed runs per model and source (default 30, after 5 warm-up runs)
 *   --threads 1,2        intraOpNumThreads values to measure (default 1,2)
 *   --baseline DIR       a repository-shaped folder (<name>/1/model.onnx) to compare against,
 *                        e.g. a copy of models/repository taken before a converter change
 *   --converted          also time the current converter's output, converted in memory
 * Sources: "repository" (models/repository, always), then the optional ones. Ratios (time of a
 * source / time of the reference) are to the baseline when given, else to the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CATALOGUE, IMAGES_DIR, REPOSITORY_DIR, catalogueEntry } from './catalogue.ts';
import { convertEntry } from './repository-writer.ts';

const PHOTO = 'dog.jpg';
const WARMUP_RUNS = 5;

interface Options {
  runs: number;
  threads: number[];
  baselineDir?: string;
  converted: boolean;
  names: string[];
}

function parseOptions(args: string[]): Options {
  const options: Options = { runs: 30, threads: [1, 2], converted: false, names: [] };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const value = (): string => {
      const next = args[++index];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--runs') options.runs = Number(value());
    else if (arg === '--threads') options.threads = value().split(',').map(Number);
    else if (arg === '--baseline') options.baselineDir = value();
    else if (arg === '--converted') options.converted = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else options.names.push(arg);
  }
  if (!(options.runs >= 1) || options.threads.some((threads) => !(threads >= 1))) throw new Error('--runs and --threads take positive numbers');
  return options;
}

interface Source {
  label: string;
  model(name: string): Uint8Array;
}

function sourcesOf(options: Options): Source[] {
  const fromDir = (label: string, dir: string): Source => ({
    label,
    model: (name) => {
      const path = join(dir, name, '1', 'model.onnx');
      if (!existsSync(path)) throw new Error(`${label}: no ${path}`);
      return readFileSync(path);
    },
  });
  const sources = [fromDir('repository', REPOSITORY_DIR)];
  if (options.baselineDir) sources.push(fromDir('baseline', options.baselineDir));
  if (options.converted) sources.push({ label: 'converted', model: (name) => convertEntry(catalogueEntry(name)).bytes });
  return sources;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function timeRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  const started = performance.now();
  await session.run(feeds);
  return performance.now() - started;
}

/** Median ms per source, runs alternating between the sources so that load changes hit all alike. */
async function measure(bytes: Uint8Array[], feeds: Record<string, ort.Tensor>, threads: number, runs: number): Promise<number[]> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const sessions = await Promise.all(bytes.map((model) => ort.InferenceSession.create(model, sessionOptions)));
  try {
    for (const session of sessions) for (let run = 0; run < WARMUP_RUNS; run++) await session.run(feeds);
    const times: number[][] = sessions.map(() => []);
    for (let run = 0; run < runs; run++) {
      for (const [index, session] of sessions.entries()) times[index]!.push(await timeRun(session, feeds));
    }
    return times.map(median);
  } finally {
    await Promise.all(sessions.map((session) => session.release()));
  }
}

const options = parseOptions(process.argv.slice(2));
const sources = sourcesOf(options);
const entries = options.names.length ? options.names.map(catalogueEntry) : [...CATALOGUE];
const baselineIndex = sources.findIndex((source) => source.label === 'baseline');
const reference: number | undefined = baselineIndex >= 0 ? baselineIndex : sources.length > 1 ? 0 : undefined;

const header = ['model', 'threads', ...sources.map((source) => `${source.label} ms`), ...(reference !== undefined ? sources.filter((_, index) => index !== reference).map((source) => `${source.label}/${sources[reference]!.label}`) : [])];
const rows: string[][] = [];
for (const entry of entries) {
  const sample = await entry.makeSample(join(IMAGES_DIR, PHOTO));
  const feeds = Object.fromEntries(Object.entries(sample).map(([name, tensor]) => [name, new ort.Tensor('float32', tensor.data as Float32Array, tensor.dims)]));
  const bytes = sources.map((source) => source.model(entry.name));
  for (const threads of options.threads) {
    const medians = await measure(bytes, feeds, threads, options.runs);
    const ratios = reference !== undefined ? medians.filter((_, index) => index !== reference).map((ms) => (ms / medians[reference]!).toFixed(2)) : [];
    const row = [entry.name, String(threads), ...medians.map((ms) => ms.toFixed(2)), ...ratios];
    rows.push(row);
    console.error(row.join('  '));
  }
}

const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
const line = (cells: string[]): string => `| ${cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join(' | ')} |`;
console.log(`\nmedian of ${options.runs} runs after ${WARMUP_RUNS} warm-up, ${PHOTO}, onnxruntime-node graphOptimizationLevel 'all'`);
console.log(line(header));
console.log(`|${widths.map((width, column) => (column < 2 ? `-${'-'.repeat(width)}-` : `-${'-'.repeat(width)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));
