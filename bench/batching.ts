/**
 * Does dynamic batching help on this machine? The same closed-loop load (CLIENTS concurrent
 * clients, each sending its next request when the last one returns) on each model, with
 * maxBatchSize 1 vs 4 vs 8, in one run so that the ratios compare like with like.
 *
 *   npx tsx bench/batching.ts [--clients 8] [--requests 400] [--delay 2] [--workers 2] [--rounds 3]
 *
 * Models: `emotion` from models/repository (variable batch dim) when present, and the `slow`
 * fixture (a MatMul chain whose cost grows linearly with the batch).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../services/core/config.ts';
import type { ModelCard, Tensor } from '../services/core/contracts.ts';
import { createRuntime, type OnnxRuntime } from '../services/runtime/index.ts';
import { startProgress, type Progress } from '../services/cli/progress.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    requests: { type: 'string', default: '400' },
    delay: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
  },
});
const CLIENTS = Number(values.clients);
const DELAY_MS = Number(values.delay);
const WORKERS = Number(values.workers);
const ROUNDS = Number(values.rounds);
const BATCH_SIZES = [1, 4, 8];

interface Subject {
  name: string;
  path: string;
  /** Total requests per configuration (cheap models get more). */
  requests: number;
  input: () => Record<string, Tensor>;
}

function subjects(): Subject[] {
  const list: Subject[] = [];
  const emotion = path.join(PROJECT_ROOT, 'models', 'repository', 'emotion');
  if (existsSync(path.join(emotion, 'card.json'))) {
    const card = JSON.parse(readFileSync(path.join(emotion, 'card.json'), 'utf8')) as ModelCard;
    const spec = card.inputs[0]!;
    const dims = spec.shape.map((dim) => (dim === -1 ? 1 : dim));
    const length = dims.reduce((product, dim) => product * dim, 1);
    list.push({
      name: 'emotion',
      path: path.join(emotion, card.file),
      requests: Number(values.requests) * 4,
      input: () => ({ [spec.name]: { type: 'float32', dims, data: Float32Array.from({ length }, () => Math.random() * 2 - 1) } }),
    });
  }
  list.push({
    name: 'slow',
    path: path.join(PROJECT_ROOT, 'test', 'fixtures', 'models', 'repository', 'slow', '1', 'model.onnx'),
    requests: Math.max(CLIENTS * 4, Math.round(Number(values.requests) / 5)),
    input: () => ({ INPUT0: { type: 'float32', dims: [1, 256], data: Float32Array.from({ length: 256 }, () => Math.random()) } }),
  });
  return list;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

interface Row {
  model: string;
  maxBatch: number;
  throughput: number;
  p50: number;
  p99: number;
  meanBatch: number;
}

interface Sample {
  throughput: number;
  latencies: number[];
  batchSum: number;
}

/** One closed-loop burst: CLIENTS clients share `requests` requests. */
async function burst(runtime: OnnxRuntime, subject: Subject, requests: number): Promise<Sample> {
  const latencies: number[] = [];
  let batchSum = 0;
  let remaining = requests;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (remaining > 0) {
        remaining -= 1;
        const sent = performance.now();
        const result = await runtime.infer(subject.name, '1', subject.input());
        latencies.push(performance.now() - sent);
        batchSum += result.batchSize;
      }
    }),
  );
  return { throughput: latencies.length / ((performance.now() - started) / 1000), latencies, batchSum };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The configurations of one model run interleaved, ROUNDS times each, so that a neighbour's load
 * on this shared machine hits them alike; throughput is the median over rounds, latencies pooled.
 */
async function measure(subject: Subject, progress: Progress): Promise<Row[]> {
  const runtimes = new Map<number, OnnxRuntime>();
  try {
    for (const maxBatchSize of BATCH_SIZES) {
      const runtime = createRuntime(loadConfig({ runtime: { workers: WORKERS, intraOpThreads: 1 } }));
      runtimes.set(maxBatchSize, runtime);
      await runtime.load({
        name: subject.name,
        version: '1',
        path: subject.path,
        maxQueueSize: CLIENTS * 2,
        queueTimeoutMs: 60_000,
        ...(maxBatchSize > 1 ? { batching: { maxBatchSize, maxQueueDelayMs: DELAY_MS } } : {}),
      });
      await burst(runtime, subject, CLIENTS * 2); // warm up every worker
    }
    progress.tick(0, `${subject.name}, ${ROUNDS} rounds of maxBatch ${BATCH_SIZES.join('/')}`);
    const samples = new Map<number, Sample[]>(BATCH_SIZES.map((size) => [size, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const maxBatchSize of BATCH_SIZES) {
        samples.get(maxBatchSize)!.push(await burst(runtimes.get(maxBatchSize)!, subject, Math.ceil(subject.requests / ROUNDS)));
        progress.tick(1, `${subject.name}, round ${round + 1}/${ROUNDS}, maxBatch ${maxBatchSize}`);
      }
    }
    return BATCH_SIZES.map((maxBatch) => {
      const runs = samples.get(maxBatch)!;
      const latencies = runs.flatMap((run) => run.latencies).sort((a, b) => a - b);
      return {
        model: subject.name,
        maxBatch,
        throughput: median(runs.map((run) => run.throughput)),
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
        meanBatch: runs.reduce((sum, run) => sum + run.batchSum, 0) / latencies.length,
      };
    });
  } finally {
    await Promise.all([...runtimes.values()].map((runtime) => runtime.close()));
  }
}

const rows: Row[] = [];
const measured = subjects();
const progress = startProgress({ label: 'bench:batching', total: measured.length * ROUNDS * BATCH_SIZES.length, unit: 'bursts' });
for (const subject of measured) rows.push(...(await measure(subject, progress)));
progress.finish();

const header = ['model', 'maxBatch', 'mean batch', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs 1', 'p50 vs 1', 'p99 vs 1'];
const lines = rows.map((row) => {
  const base = rows.find((other) => other.model === row.model && other.maxBatch === 1)!;
  return [
    row.model,
    String(row.maxBatch),
    row.meanBatch.toFixed(2),
    row.throughput.toFixed(1),
    row.p50.toFixed(1),
    row.p99.toFixed(1),
    `${(row.throughput / base.throughput).toFixed(2)}x`,
    `${(row.p50 / base.p50).toFixed(2)}x`,
    `${(row.p99 / base.p99).toFixed(2)}x`,
  ];
});
const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
const format = (cells: string[]): string => cells.map((cell, column) => cell.padStart(widths[column]!)).join('  ');
console.log(`closed loop: ${CLIENTS} clients, ${WORKERS} workers x 1 intra-op thread, maxQueueDelayMs ${DELAY_MS}, ${ROUNDS} interleaved rounds (req/s: median of rounds)`);
console.log(format(header));
for (const line of lines) console.log(format(line));
