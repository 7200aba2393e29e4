/**
 * npm run bench:inspect - defect inspection of camera streams, side by side in one run:
 *   1. the raw model: the defect model serving the surface (its specialist, defect-gravel by default) on the node's worker pool (2 workers x 1 thread), two frames
 *      in flight, 256x256 tiles already as tensors: the compute limit;
 *   2. the inspect task in-process: JPEG decode + tiling + model + regions, no transport;
 *   3. a node in its own process (`mec serve`) with 4 simulated cameras over MQTT (the real
 *      Mosquitto) at rising frame rates, then the same over WebSocket at one rate: frames/s
 *      inspected, frame-to-result p50/p99 as the cameras measure it, drop rate, detection check.
 * Targets (issue 3): >= 30 frames/s inspected in total with p99 frame-to-result <= 150 ms, and no
 * drops below that rate.
 *
 * The cameras share the node's two cores (frames are rendered before sending starts, so they cost
 * little); as in bench:vision they run at the inference threads' nice value during phase 3.
 *
 * The broker is a private Mosquitto with the project's settings (deploy/mosquitto/mosquitto.conf:
 * set_tcp_nodelay, which takes ~25 ms off every frame) on a free port, unless MQTT_URL names one.
 *
 * Options (env): BENCH_SECONDS per rate (default 10), BENCH_RATES per-camera fps list (default
 * 2.5,5,7.5,10,12.5,15), BENCH_SURFACE (default gravel), MQTT_URL.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFECT_MODELS, loadConfig, PROJECT_ROOT } from '../services/core/config.ts';
import type { Tensor } from '../services/core/contracts.ts';
import { createRuntime } from '../services/runtime/index.ts';
import { createRepository } from '../services/registry/index.ts';
import { createInspectionTasks } from '../services/tasks/inspection/index.ts';
import { simulateCameras, type SimulationReport } from '../services/client/camera/simulate.ts';
import { loadTexture, planFrame, renderFrame } from '../services/client/camera/frames.ts';
import { mulberry32 } from '../services/client/camera/random.ts';
import { closedLoop } from './lib/closed-loop.ts';
import { rssMb, startServer } from './lib/node-process.ts';
import { printTable } from './lib/table.ts';
import { startProgress, type Progress } from '../services/cli/progress.ts';
import { privateBroker } from '../test/support/mosquitto.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATES = (process.env.BENCH_RATES ?? '2.5,5,7.5,10,12.5,15').split(',').map(Number);
const SURFACE = process.env.BENCH_SURFACE ?? 'gravel';
/** A broker to use instead of a private one with deploy/mosquitto/mosquitto.conf. */
const MQTT_URL = process.env.MQTT_URL;
const CAMERAS = 4;
const SIZE = 256;
// The in-process rows measure compute: their closed loop keeps 2 requests per worker in flight, which
// the admission gate's queue-delay target (5 ms) refuses at once; 0 leaves only its hard cap (the node
// in phase 3 runs with its defaults).
const config = loadConfig({ log: { level: 'warn' }, models: { load: [...DEFECT_MODELS] }, tasks: { maxQueueDelayMs: 0 } });

/** Real frames of the surface as the simulator renders them (JPEG q90, 10% with a defect). */
async function sampleFrames(count: number): Promise<Buffer[]> {
  const texture = await loadTexture(SURFACE, SIZE);
  const random = mulberry32(7);
  const frames: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    const plan = planFrame(random, texture, { size: SIZE, defectRate: 0.1 });
    frames.push(await renderFrame(texture, plan, { format: 'jpeg', quality: 90 }));
  }
  return frames;
}

async function inProcess(frames: readonly Buffer[], progress: Progress) {
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: [...DEFECT_MODELS] });
  const inspection = createInspectionTasks({ repository, config });
  // The raw row times the model the inspect task runs for SURFACE (its specialist when one is loaded).
  const surfaceModel = inspection.surfaces().find((surface) => surface.name === SURFACE)?.model;
  try {
    if (surfaceModel === undefined) throw new Error(`no defect model covers the surface ${SURFACE}`);
    // A tile as the task sends it: 8-bit pixels widened on the worker (Tensor.pixels).
    const unit = 1 / 255;
    const tile = (): Tensor => ({ type: 'float32', dims: [1, 3, SIZE, SIZE], data: new Uint8Array(3 * SIZE * SIZE).fill(128), pixels: { scale: [unit, unit, unit], offset: [0, 0, 0], channelAxis: 1 } });
    progress.tick(0, 'raw model');
    const raw = await closedLoop(2 * config.runtime.workers, SECONDS * 1000, async () => {
      await repository.infer(surfaceModel, undefined, { image: tile() });
    }, { warmupMs: 1000 });
    progress.tick(1, 'inspect task');
    const task = await closedLoop(2 * config.runtime.workers, SECONDS * 1000, async (iteration) => {
      await inspection.inspect(frames[iteration % frames.length]!, { surface: SURFACE });
    }, { warmupMs: 1000 });
    progress.tick();
    return { raw, task, surfaceModel };
  } finally {
    await repository.close();
  }
}

function rowOf(label: string, offered: number, report: SimulationReport): (string | number)[] {
  const total = report.total;
  // Frames never answered: superseded at the node (newest frame wins) or lost.
  const dropRate = total.sent === 0 ? 0 : total.unanswered / total.sent;
  const { check } = total;
  return [
    label,
    offered,
    total.sent,
    Number(total.answered_per_second.toFixed(1)),
    total.latency_ms.p50,
    total.latency_ms.p99,
    `${(dropRate * 100).toFixed(1)}%`,
    Object.values(total.errors).reduce((sum, count) => sum + count, 0),
    `${check.detected}/${check.defective_answered}`,
    `${check.localised}/${check.defective_answered}`,
    `${check.false_alarms}/${check.good_answered}`,
  ];
}

async function main(): Promise<void> {
  process.stdout.write(`bench:inspect on ${os.cpus().length} cores, ${config.runtime.workers} workers x ${config.runtime.intraOpThreads} thread, surface ${SURFACE}, ${SECONDS} s per phase\n`);
  const frames = await sampleFrames(40);
  const computeProgress = startProgress({ label: 'bench:inspect in-process', total: 2, unit: 'phases' });
  const { raw, task, surfaceModel } = await inProcess(frames, computeProgress).finally(() => computeProgress.finish());
  printTable(`Compute limit: ${surfaceModel} and the inspect task on ${SURFACE}, in-process`, ['pipeline', 'in flight', 'frames/s', 'p50 ms', 'p99 ms', 'vs raw'], [
    ['raw model (tensor in, worker pool)', raw.concurrency, raw.throughput, raw.p50, raw.p99, 1],
    ['inspect task (JPEG in, regions out)', task.concurrency, task.throughput, task.p50, task.p99, task.throughput / raw.throughput],
  ]);

  const broker = MQTT_URL === undefined ? await privateBroker(readFileSync(path.join(PROJECT_ROOT, 'deploy/mosquitto/mosquitto.conf'), 'utf8').split('\n')) : undefined;
  const mqttUrl = MQTT_URL ?? broker!.url;
  const server = await startServer(['--port', '0', '--models', DEFECT_MODELS.join(','), '--log-level', 'warn', '--mqtt', mqttUrl, '--workers', String(config.runtime.workers), '--intra-op-threads', String(config.runtime.intraOpThreads)]);
  const rows: (string | number)[][] = [];
  const progress = startProgress({ label: 'bench:inspect cameras', total: RATES.length + 1, unit: 'runs' });
  try {
    os.setPriority(config.runtime.workerNice);
    const base = { surface: SURFACE, defectRate: 0.1, cameras: CAMERAS, size: SIZE, distinctFrames: 30, timeoutMs: 3000, seed: 11 } as const;
    // The node's MQTT bridge connects in the background: a short run first makes sure it is there.
    await simulateCameras({ ...base, fps: 5, count: 5, cameras: 1, mqtt: mqttUrl });
    for (const fps of RATES) {
      progress.tick(0, `MQTT, ${fps * CAMERAS} fps offered`);
      const report = await simulateCameras({ ...base, fps, count: Math.round(fps * SECONDS), mqtt: mqttUrl, cameraId: `bench-mqtt-${fps}` });
      rows.push(rowOf('MQTT', fps * CAMERAS, report));
      progress.tick();
    }
    const wsRate = RATES.find((fps) => fps * CAMERAS >= 30) ?? RATES.at(-1)!;
    progress.tick(0, `WebSocket, ${wsRate * CAMERAS} fps offered`);
    const report = await simulateCameras({ ...base, fps: wsRate, count: Math.round(wsRate * SECONDS), ws: server.url.replace('http', 'ws'), cameraId: `bench-ws-${wsRate}` });
    rows.push(rowOf('WebSocket', wsRate * CAMERAS, report));
    progress.tick();
    progress.finish();
    const memory = rssMb(server.child.pid!);
    printTable(
      `${CAMERAS} cameras -> node (own process) -> results, ${SIZE}x${SIZE} JPEG frames; latency = frame capture to result as the camera sees it`,
      ['transport', 'offered fps', 'sent', 'inspected/s', 'p50 ms', 'p99 ms', 'dropped', 'errors', 'detected', 'localised', 'false alarms'],
      rows,
    );
    process.stdout.write(`node RSS after the runs: ${memory.rss.toFixed(0)} MB (peak ${memory.peak.toFixed(0)} MB)\n`);
  } finally {
    progress.finish();
    server.child.kill('SIGTERM');
    await broker?.close();
  }
}

await main();
