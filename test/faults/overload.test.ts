/**
 * Fault scenario 7: offered load at 3x capacity on a real node process (`mec serve`, model
 * `defect`, POST /v1/inspect with a 256x256 frame), over real HTTP (undici).
 *
 *   1. capacity: closed loop (one client per place of the node's task gate, GET /v1/tier/status
 *      load.places; each sends its next request when answered);
 *   2. the unloaded p99: open loop at 0.3x capacity (fixed arrival rate);
 *   3. overload: open loop at 3x capacity for 20 s (60 s with FAULTS_FULL=1).
 *
 * Targets (issue 6): rejections answer fast (p99 <= 20 ms, 503/429 with Retry-After), admitted
 * requests' p99 <= 1.5x the unloaded p99, no out-of-memory. The figures are recorded as measured;
 * the assertions are the safety properties (only 200 or 503 with Retry-After, no connection
 * failures, goodput near capacity, RSS bounded, health 200) plus looser bounds on the latencies,
 * since the two cores of this machine are shared with the load generator and other work.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { openLoop, servedRate } from '../../bench/lib/open-loop.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { FULL, recordFigures, type Figure } from './support/figures.ts';

const FRAME = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect/metal-hole.jpg'));
const OVERLOAD_SECONDS = FULL ? 60 : 20;
const UNLOADED_SECONDS = FULL ? 20 : 6;
const CAPACITY_SECONDS = FULL ? 10 : 4;

interface Outcome {
  status: number;
  ms: number;
  code?: string;
  retryAfter?: string;
  /** Connection-level failure (reset, refused): never expected. */
  failed?: string;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

describe('fault 7: offered load at 3x capacity', () => {
  let node: NodeProcess;
  let pool: Pool;

  beforeAll(async () => {
    node = await startNodeProcess(['--port', '0', '--models', 'defect', '--no-mqtt', '--log-level', 'error']);
    // Enough sockets that the client never queues requests itself: an open loop must stay open.
    pool = new Pool(node.url, { connections: 512, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  });

  afterAll(async () => {
    await pool?.close();
    await node?.stop();
  });

  async function inspect(): Promise<Outcome> {
    const started = performance.now();
    try {
      const response = await pool.request({ path: '/v1/inspect?surface=metal', method: 'POST', body: FRAME, headers: { 'content-type': 'image/jpeg' } });
      const text = await response.body.text();
      const ms = performance.now() - started;
      const retryAfter = response.headers['retry-after'];
      const code = response.statusCode === 200 ? undefined : ((JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'NO CODE');
      return { status: response.statusCode, ms, ...(code ? { code } : {}), ...(typeof retryAfter === 'string' ? { retryAfter } : {}) };
    } catch (error) {
      return { status: 0, ms: performance.now() - started, failed: (error as Error).message };
    }
  }

  it('rejects fast with Retry-After, keeps admitted requests near their unloaded latency, and does not grow', async () => {
    // Warm: the first runs allocate and pick kernels.
    const served = (outcome: Outcome): boolean => outcome.status === 200;
    await servedRate(2, 1, inspect, served);

    // As many clients as the node has places: every place busy, nobody queued or refused.
    const status = await pool.request({ path: '/v1/tier/status', method: 'GET' });
    const places = ((await status.body.json()) as { load: { places: number } }).load.places;
    expect(places).toBeGreaterThanOrEqual(1);
    const capacity = (await servedRate(places, CAPACITY_SECONDS, inspect, served)).rate;
    expect(capacity).toBeGreaterThan(5);

    const unloaded = await openLoop(capacity * 0.3, UNLOADED_SECONDS, inspect);
    const unloadedOk = unloaded.filter((outcome) => outcome.status === 200).map((outcome) => outcome.ms);
    expect(unloadedOk.length).toBeGreaterThan(unloaded.length * 0.95);
    const unloadedP99 = percentile(unloadedOk, 0.99);

    const rssBefore = rssMiB(node.child.pid!);
    let rssPeak = rssBefore;
    let lastSample = 0;
    const sampleRss = (): void => {
      if (performance.now() - lastSample < 500) return;
      lastSample = performance.now();
      rssPeak = Math.max(rssPeak, rssMiB(node.child.pid!));
    };
    const offered = capacity * 3;
    const overloadStarted = performance.now();
    const overload = await openLoop(offered, OVERLOAD_SECONDS, inspect, sampleRss);
    const overloadSeconds = (performance.now() - overloadStarted) / 1000;
    // Let the node settle (sockets, GC) before the last sample.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rssAfter = rssMiB(node.child.pid!);

    const admitted = overload.filter((outcome) => outcome.status === 200);
    const rejected = overload.filter((outcome) => outcome.status === 503 || outcome.status === 429);
    const other = overload.filter((outcome) => outcome.status !== 200 && outcome.status !== 503 && outcome.status !== 429);
    const admittedP99 = percentile(admitted.map((outcome) => outcome.ms), 0.99);
    const rejectedP99 = percentile(rejected.map((outcome) => outcome.ms), 0.99);
    const rejectedP50 = percentile(rejected.map((outcome) => outcome.ms), 0.5);
    const admittedP50 = percentile(admitted.map((outcome) => outcome.ms), 0.5);
    // Tails on a shared 2-core machine carry the other processes' load: recorded beside them.
    const [loadAverage] = os.loadavg();
    const goodput = admitted.length / overloadSeconds;
    const codes = [...new Set(rejected.map((outcome) => outcome.code))].sort();
    const health = await pool.request({ path: '/v2/health/ready', method: 'GET' });
    await health.body.dump();

    const figures: Figure[] = [
      { name: `capacity (closed loop, ${places} clients = the node's places)`, value: `${round1(capacity)} req/s`, target: 'measured', met: true },
      { name: 'unloaded p99 (open loop at 0.3x)', value: `${round1(unloadedP99)} ms`, target: 'measured', met: true },
      { name: 'offered load', value: `${round1(offered)} req/s for ${OVERLOAD_SECONDS} s (${overload.length} requests)`, target: '3x capacity', met: true },
      { name: 'rejection p99 (503 with Retry-After)', value: `${round1(rejectedP99)} ms, median ${round1(rejectedP50)} ms (${rejected.length} rejected: ${codes.join(', ')})`, target: '<= 20 ms', met: rejectedP99 <= 20 },
      { name: 'admitted p99 vs unloaded p99', value: `${round1(admittedP99)} ms = ${round1(admittedP99 / unloadedP99)}x (median ${round1(admittedP50)} vs ${round1(percentile(unloadedOk, 0.5))} ms)`, target: '<= 1.5x', met: admittedP99 <= 1.5 * unloadedP99 },
      { name: 'goodput under overload', value: `${round1(goodput)} req/s = ${Math.round((100 * goodput) / capacity)}% of capacity`, target: '>= 80% of capacity', met: goodput >= 0.8 * capacity },
      { name: 'other answers or connection failures', value: String(other.length), target: '0', met: other.length === 0 },
      { name: 'machine load average (1 min) at the end', value: `${round1(loadAverage ?? Number.NaN)} on ${os.availableParallelism()} cores`, target: 'context', met: true },
      { name: 'node RSS before / peak / after', value: `${Math.round(rssBefore)} / ${Math.round(rssPeak)} / ${Math.round(rssAfter)} MiB`, target: 'growth < 100 MiB, no OOM', met: rssAfter - rssBefore < 100 && node.child.exitCode === null },
    ];
    recordFigures('7 overload at 3x capacity', figures);

    // Safety properties: always.
    expect(other.map((outcome) => outcome.failed ?? outcome.status)).toEqual([]);
    expect(rejected.length).toBeGreaterThan(overload.length * 0.3); // 3x offered: most of the excess is refused
    expect(rejected.every((outcome) => Number(outcome.retryAfter) >= 1)).toBe(true);
    expect(codes.every((code) => code === 'EDGE_ERR_QUEUE_FULL' || code === 'EDGE_ERR_QUEUE_TIMEOUT' || code === 'EDGE_ERR_RATE_LIMITED')).toBe(true);
    expect(goodput).toBeGreaterThan(0.5 * capacity);
    expect(health.statusCode).toBe(200);
    expect(node.child.exitCode).toBeNull();
    expect(rssAfter - rssBefore).toBeLessThan(200);
    // Medians, which the other work on a shared machine barely moves (the p99 targets are the
    // figures above): a refusal costs no queueing, and an admitted request waits a bounded time.
    // A 64-deep FIFO in front of 4 places would put the admitted median near 16 service times.
    expect(rejectedP50).toBeLessThan(20);
    expect(admittedP50).toBeLessThan(Math.max(8 * percentile(unloadedOk, 0.5), 150));
  });
});
