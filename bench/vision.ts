/**
 * npm run bench:vision - image recognition with CenterNet, side by side in one run on the same photos:
 *   1. raw session.run in a loop on this thread (the compute limit of one core),
 *   2. the in-process pipeline: decode + pre-process + infer (worker pool) + post-process, no HTTP,
 *   3. the node over real HTTP (a child process running `mec serve`) under closed-loop load at
 *      concurrency 1, 4 and 16, with /v2/health/live probed while inference saturates,
 * then the node's RSS with the detectors loaded. Prints tables of medians and ratios; absolute times
 * drift on this shared machine, the ratios are what to compare.
 *
 * The load generator shares the node's two cores. In production it would be elsewhere, so during
 * the HTTP phases it runs at the inference threads' nice value (runtime.workerNice): it competes
 * with inference as an equal, not with the node's HTTP thread (which runs at nice 0). The health
 * probe runs in a process of its own at normal priority, as a kubelet probe would.
 *
 * Options (env): BENCH_SECONDS (per closed-loop phase, default 8), BENCH_RAW_RUNS (default 40),
 * BENCH_WORKERS and BENCH_INTRA_OP (default: the node's defaults, 2 workers x 1 thread here).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Pool } from 'undici';
import { loadConfig, PROJECT_ROOT } from '../services/core/config.ts';
import { createRuntime } from '../services/runtime/index.ts';
import { createRepository } from '../services/registry/index.ts';
import { createVisionTasks } from '../services/tasks/vision/index.ts';
import { startProgress, type Progress } from '../services/cli/progress.ts';
import { closedLoop, type ClosedLoopResult } from './lib/closed-loop.ts';
import { rssMb, startServer, type ServerProcess } from './lib/node-process.ts';
import { median, summarize } from './lib/stats.ts';
import { printTable } from './lib/table.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const RAW_RUNS = Number(process.env.BENCH_RAW_RUNS ?? 40);
const WARMUP_MS = 1500;
const CONCURRENCIES = [1, 4, 16] as const;
const PHOTOS = ['dog.jpg', 'person.jpg', 'horses.jpg'].map((name) => readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images', name)));
const runtimeOverrides = {
  ...(process.env.BENCH_WORKERS ? { workers: Number(process.env.BENCH_WORKERS) } : {}),
  ...(process.env.BENCH_INTRA_OP ? { intraOpThreads: Number(process.env.BENCH_INTRA_OP) } : {}),
};
const config = loadConfig({ log: { level: 'warn' }, runtime: runtimeOverrides, models: { load: ['centernet', 'nanodet'] } });

async function rawSessionRun(): Promise<{ medianMs: number; perSecond: number }> {
  const modelPath = path.join(config.models.repository, 'centernet', '1', 'model.onnx');
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: config.runtime.intraOpThreads, graphOptimizationLevel: 'all' });
  const pixels = await sharp(PHOTOS[0]).removeAlpha().resize(512, 512, { fit: 'fill' }).raw().toBuffer();
  const input = new ort.Tensor('float32', Float32Array.from(pixels), [1, 512, 512, 3]);
  const feeds = { [session.inputNames[0] as string]: input };
  for (let i = 0; i < 3; i += 1) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < RAW_RUNS; i += 1) {
    const started = performance.now();
    await session.run(feeds);
    times.push(performance.now() - started);
  }
  await session.release();
  const medianMs = median(times);
  return { medianMs, perSecond: 1000 / medianMs };
}

async function inProcessPipeline(progress: Progress): Promise<ClosedLoopResult[]> {
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: ['centernet'] });
  const vision = createVisionTasks({ repository, config });
  try {
    const results: ClosedLoopResult[] = [];
    for (const concurrency of [1, 16]) {
      progress.tick(0, `in-process pipeline, concurrency ${concurrency}`);
      results.push(
        await closedLoop(concurrency, SECONDS * 1000, async (i) => {
          await vision.detect(PHOTOS[i % PHOTOS.length] as Buffer, { model: 'centernet' });
        }, { warmupMs: WARMUP_MS }),
      );
      progress.tick();
    }
    return results;
  } finally {
    await repository.close();
  }
}

async function detectOverHttp(pool: Pool, body: Buffer): Promise<void> {
  const response = await pool.request({ method: 'POST', path: '/v1/vision/detect?model=centernet', body, headers: { 'content-type': 'image/jpeg' } });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw Object.assign(new Error(text), { code: `HTTP_${response.statusCode}` });
}

async function overHttp(server: ServerProcess, progress: Progress) {
  const pool = new Pool(server.url, { connections: 32, pipelining: 1 });
  try {
    const idle = rssMb(server.child.pid!);
    const send = (i: number) => detectOverHttp(pool, PHOTOS[i % PHOTOS.length] as Buffer);
    const loads: ClosedLoopResult[] = [];
    for (const concurrency of CONCURRENCIES) {
      progress.tick(0, `server over HTTP, concurrency ${concurrency}`);
      loads.push(await closedLoop(concurrency, SECONDS * 1000, send, { warmupMs: WARMUP_MS }));
      progress.tick();
    }
    // A phase of its own for the health probe, so that its requests (and its process) are not
    // charged to the throughput measured above.
    progress.tick(0, 'saturated while /v2/health/live is probed');
    const probe = probeHealth(server.url, SECONDS * 1000);
    const saturatedWhileProbed = await closedLoop(CONCURRENCIES[CONCURRENCIES.length - 1]!, SECONDS * 1000, send, { warmupMs: WARMUP_MS });
    const health = summarize(await probe);
    progress.tick();
    const loaded = rssMb(server.child.pid!);
    return { loads, saturatedWhileProbed, health, idle, loaded };
  } finally {
    await pool.close();
  }
}

/** Starts the health probe in its own process (see bench/lib/health-probe.ts); resolves to its latencies. */
function probeHealth(url: string, durationMs: number): Promise<number[]> {
  const probe = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench/lib/health-probe.ts'), url, String(WARMUP_MS), String(durationMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // It would inherit the load generator's nice value: back to normal (allowed as root; else it stays).
  try {
    os.setPriority(probe.pid!, 0);
  } catch {
    process.stderr.write('health probe: cannot restore its priority (not root); it runs at the load generator\'s\n');
  }
  let output = '';
  probe.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return once(probe, 'exit').then(() => JSON.parse(output || '[]') as number[]);
}

async function main(): Promise<void> {
  process.stdout.write(`bench:vision - CenterNet, ${config.runtime.workers} workers x ${config.runtime.intraOpThreads} intra-op thread(s), ${SECONDS}s per phase\n`);
  // Phases: the raw loop, 2 in-process concurrencies, 3 over HTTP and the probed one.
  const progress = startProgress({ label: 'bench:vision', total: 3 + CONCURRENCIES.length + 1, unit: 'phases' });
  progress.tick(0, 'raw session.run loop');
  const raw = await rawSessionRun();
  progress.tick();
  const pipeline = await inProcessPipeline(progress);
  progress.tick(0, 'starting the node');
  const server = await startServer(['--port', '0', '--models', 'centernet,nanodet', '--log-level', 'warn', '--workers', String(config.runtime.workers), '--intra-op-threads', String(config.runtime.intraOpThreads)]);
  os.setPriority(config.runtime.workerNice);
  let http: Awaited<ReturnType<typeof overHttp>>;
  try {
    http = await overHttp(server, progress);
  } finally {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
    progress.finish();
  }

  const pipelineSaturated = pipeline[pipeline.length - 1]!;
  const lone = http.loads[0]!;
  const c4 = http.loads.find((load) => load.concurrency === 4)!;
  const saturated = http.loads[http.loads.length - 1]!;
  const row = (name: string, r: ClosedLoopResult) => [name, r.concurrency, r.throughput, r.p50, r.p99, r.throughput / pipelineSaturated.throughput, r.errors];
  printTable(
    'CenterNet detection: throughput (images/s) and latency (ms); ratio = throughput / in-process pipeline at saturation',
    ['path', 'concurrency', 'images/s', 'p50 ms', 'p99 ms', 'ratio', 'errors'],
    [
      ['raw session.run loop (1 thread)', 1, raw.perSecond, raw.medianMs, Number.NaN, raw.perSecond / pipelineSaturated.throughput, 0],
      ...pipeline.map((r) => row('in-process pipeline', r)),
      ...http.loads.map((r) => row('server over HTTP', r)),
    ],
  );
  const targets: Array<[string, string, string, boolean]> = [
    ['server throughput at saturation / in-process pipeline', '>= 0.85', (saturated.throughput / pipelineSaturated.throughput).toFixed(2), saturated.throughput / pipelineSaturated.throughput >= 0.85],
    ['p99 at concurrency 4 / p50 of a lone request', '<= 2.5', (c4.p99 / lone.p50).toFixed(2), c4.p99 / lone.p50 <= 2.5],
    ['/v2/health/live p99 under saturation (ms)', '<= 10', http.health.p99.toFixed(2), http.health.p99 <= 10],
    ['node RSS with the detectors loaded, after load (MB)', '<= 250', http.loaded.rss.toFixed(0), http.loaded.rss <= 250],
  ];
  printTable('Targets', ['measure', 'target', 'measured', 'met'], targets.map(([a, b, c, d]) => [a, b, c, d ? 'yes' : 'NO']));
  printTable('Node memory (MB)', ['when', 'RSS', 'peak RSS'], [
    ['idle, centernet + nanodet loaded', http.idle.rss, http.idle.peak],
    ['after the load phases', http.loaded.rss, http.loaded.peak],
  ]);
  process.stdout.write(
    `health probe: ${http.health.count} samples, p50 ${http.health.p50.toFixed(2)} ms, p99 ${http.health.p99.toFixed(2)} ms, max ${http.health.max.toFixed(2)} ms ` +
      `(while ${http.saturatedWhileProbed.throughput.toFixed(1)} images/s at concurrency ${http.saturatedWhileProbed.concurrency})\n`,
  );
}

await main();
