/**
 * bench:placement on the real emulated topology, at small scale: `mec up`'s three tiers (cloud and
 * MEC nodes in processes of their own, our link proxies between them) and the device SDK in this
 * process, under the same scenarios as the simulation. Every policy gets the same request stream
 * (photos and inspection frames, data classes, Poisson arrival times, seeded), sent through the
 * device SDK - pinned to a tier for the fixed policies, unpinned for ours. The oracle is the best
 * tier in hindsight per request: the lowest latency the always-device, always-mec and always-cloud
 * runs measured for that same request, among the tiers its data class may reach.
 *
 * Everything shares this machine's two cores (the cloud is not really bigger here, and the device
 * is as fast as the nodes), so the figures say how the system behaves, and the simulation says
 * what the policies are worth at scale. Privacy cannot be violated here: the real egress module
 * refuses a fixed policy's restricted request to the cloud (EDGE_ERR_PRIVACY_DENIED), counted as a
 * failure.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { toEdgeError } from '../../services/core/errors.ts';
import { DeviceClient } from '../../services/client/device/index.ts';
import { DEFAULT_LINKS } from '../../services/links/link-settings.ts';
import { startLocalTopology, type LocalTopology } from '../../services/topology/local-topology.ts';
import type { DataClass, Tier } from '../../services/scheduler/types.ts';
import { mulberry32 } from '../../services/client/camera/random.ts';
import { printTable } from '../lib/table.ts';

const PHOTOS = ['dog.jpg', 'person.jpg', 'horses.jpg'].map((name) => readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images', name)));
const FRAMES = ['gravel-good.jpg', 'metal-hole.jpg', 'brick-good.jpg'].map((name) => readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/inspect', name)));
const SURFACES = ['gravel', 'metal', 'brick'];
const ALLOWED: Record<DataClass, Tier[]> = { public: ['device', 'mec', 'cloud'], internal: ['device', 'mec', 'cloud'], restricted: ['device', 'mec'] };
/** Hard deadlines of the real runs (as x-deadline-ms): detect and inspect as in the simulation. */
const DEADLINE_MS = { detect: 300, inspect: 150 } as const;

interface RealRequest {
  atMs: number;
  task: 'detect' | 'inspect';
  item: number;
  dataClass: DataClass;
}

interface RealOutcome {
  latencyMs: number;
  tier: Tier | 'none';
  ok: boolean;
  code?: string;
  bytesUp: number;
  violation: boolean;
}

interface RealScenario {
  name: string;
  /** Requests per second offered. */
  rate: number;
  classes: [DataClass, number][];
  link?: { latencyMs?: number; bandwidthMbit?: number; mode?: 'up' | 'down' };
}

const POLICIES = ['always-device', 'always-mec', 'always-cloud', 'static-split', 'ours'] as const;
type RealPolicy = (typeof POLICIES)[number];

function requestsFor(scenario: RealScenario, count: number, seed: number): RealRequest[] {
  const generator = mulberry32(seed);
  const random = () => generator.next();
  let at = 0;
  return Array.from({ length: count }, () => {
    at += -Math.log(1 - random()) * (1000 / scenario.rate);
    let pick = random();
    let dataClass: DataClass = 'public';
    for (const [name, share] of scenario.classes) {
      if (pick < share) {
        dataClass = name;
        break;
      }
      pick -= share;
    }
    return { atMs: at, task: random() < 0.7 ? 'detect' : 'inspect', item: Math.floor(random() * 3), dataClass };
  });
}

/** The fixed choice of each policy (static-split: the MEC node, the lowest unloaded prediction in steady conditions, for both tasks). */
function pinOf(policy: RealPolicy): Tier | undefined {
  if (policy === 'always-device') return 'device';
  if (policy === 'always-mec' || policy === 'static-split') return 'mec';
  if (policy === 'always-cloud') return 'cloud';
  return undefined;
}

async function runOne(device: DeviceClient, policy: RealPolicy, request: RealRequest): Promise<RealOutcome> {
  const pin = pinOf(policy);
  const bytes = request.task === 'detect' ? PHOTOS[request.item]! : FRAMES[request.item]!;
  const started = performance.now();
  try {
    const options = { dataClass: request.dataClass, deadlineMs: DEADLINE_MS[request.task], ...(pin ? { pin } : {}) };
    const answer = request.task === 'detect' ? await device.detect(bytes, options) : await device.inspect(bytes, { ...options, surface: SURFACES[request.item]! });
    const tier = answer.placement.tier;
    return { latencyMs: performance.now() - started, tier, ok: true, bytesUp: tier === 'device' ? 0 : bytes.length * (tier === 'cloud' ? 2 : 1), violation: !ALLOWED[request.dataClass].includes(tier) };
  } catch (error) {
    // A refusal is a miss: its latency counts as infinite in the percentiles.
    return { latencyMs: Number.POSITIVE_INFINITY, tier: 'none', ok: false, code: toEdgeError(error).code, bytesUp: 0, violation: false };
  }
}

async function runStream(device: DeviceClient, policy: RealPolicy, requests: RealRequest[]): Promise<RealOutcome[]> {
  const start = performance.now();
  return Promise.all(
    requests.map(async (request) => {
      const wait = request.atMs - (performance.now() - start);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return runOne(device, policy, request);
    }),
  );
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const cell = (value: number) => (Number.isFinite(value) ? Math.round(value) : 'inf');

export interface RealTopologyOptions {
  requestsPerRun?: number;
  seed?: number;
}

/** Runs the scenarios on a fresh local topology and prints one table per scenario; returns p95 per scenario and policy (oracle included). */
export async function runRealTopology(options: RealTopologyOptions = {}): Promise<Record<string, Record<string, number>>> {
  const count = options.requestsPerRun ?? 40;
  const seed = options.seed ?? 7;
  const folder = await mkdtemp(path.join(os.tmpdir(), 'bench-placement-'));
  let topology: LocalTopology | undefined;
  let device: DeviceClient | undefined;
  const p95s: Record<string, Record<string, number>> = {};
  try {
    topology = await startLocalTopology({
      mecPort: 0, cloudPort: 0, deviceLinkPort: 0, cloudLinkPort: 0, controlPort: 0,
      auditDir: folder, mecArgs: ['--no-mqtt'], logLevel: 'error',
    });
    // The device holds both small models (NanoDet, the defect model). It runs on this machine's
    // cores, as fast as the nodes: no slowdown is assumed here, so that its estimates and its
    // real runs agree (the simulation models a slower device).
    device = await DeviceClient.start({ mecUrl: topology.urls.deviceToMec, models: ['nanodet', 'defect'] });
    const capacity = await measureCapacity(device);
    const scenarios: RealScenario[] = [
      { name: 'steady', rate: capacity * 0.5, classes: [['public', 0.5], ['internal', 0.3], ['restricted', 0.2]] },
      { name: 'cloud-degraded', rate: capacity * 0.5, classes: [['public', 0.5], ['internal', 0.3], ['restricted', 0.2]], link: { latencyMs: DEFAULT_LINKS['mec-cloud'].latencyMs * 5, bandwidthMbit: DEFAULT_LINKS['mec-cloud'].bandwidthMbit / 10 } },
      { name: 'cloud-outage', rate: capacity * 0.5, classes: [['public', 0.5], ['internal', 0.3], ['restricted', 0.2]], link: { mode: 'down' } },
      { name: 'mec-overloaded', rate: capacity * 2, classes: [['public', 0.5], ['internal', 0.3], ['restricted', 0.2]] },
      { name: 'privacy-mix', rate: capacity * 0.5, classes: [['restricted', 0.7], ['internal', 0.2], ['public', 0.1]] },
    ];
    process.stdout.write(`\nReal topology: MEC node capacity measured at ${capacity.toFixed(1)} requests/s (closed loop, pinned to the MEC); ${count} requests per policy and scenario.\n`);
    for (const scenario of scenarios) {
      await topology.links.set('mec-cloud', { ...DEFAULT_LINKS['mec-cloud'], ...scenario.link });
      // Let heartbeats see the link as it now is.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const requests = requestsFor(scenario, count, seed);
      const results: Record<string, RealOutcome[]> = {};
      for (const policy of POLICIES) {
        results[policy] = await runStream(device, policy, requests);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      results.oracle = requests.map((request, index) => {
        const candidates = (['always-device', 'always-mec', 'always-cloud'] as const)
          .map((policy) => results[policy]![index]!)
          .filter((outcome) => outcome.ok && outcome.tier !== 'none' && ALLOWED[request.dataClass].includes(outcome.tier));
        return candidates.reduce<RealOutcome>((best, outcome) => (outcome.latencyMs < best.latencyMs ? outcome : best), { latencyMs: Number.POSITIVE_INFINITY, tier: 'none', ok: false, bytesUp: 0, violation: false });
      });
      const oracleP95 = percentile(results.oracle.map((o) => o.latencyMs), 95);
      p95s[scenario.name] = {};
      const rows = Object.entries(results).map(([policy, outcomes]) => {
        const latencies = outcomes.map((o) => o.latencyMs);
        const p95 = percentile(latencies, 95);
        p95s[scenario.name]![policy] = p95;
        const met = outcomes.filter((o, index) => o.ok && o.latencyMs <= DEADLINE_MS[requests[index]!.task]).length;
        const tiers = ['device', 'mec', 'cloud'].map((tier) => outcomes.filter((o) => o.tier === tier).length).join('/');
        const codes = new Map<string, number>();
        for (const outcome of outcomes) if (outcome.code) codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);
        const failures = [...codes].map(([code, n]) => `${n} ${code.replace('EDGE_ERR_', '')}`).join(', ') || '0';
        return [policy, cell(percentile(latencies, 50)), cell(p95), `${((100 * met) / outcomes.length).toFixed(0)}%`, outcomes.filter((o) => o.violation).length, tiers, failures, (outcomes.reduce((sum, o) => sum + o.bytesUp, 0) / 1e6).toFixed(2), Number.isFinite(p95 / oracleP95) ? (p95 / oracleP95).toFixed(2) : 'inf'];
      });
      printTable(`real topology: ${scenario.name} (${scenario.rate.toFixed(1)} req/s offered${scenario.link ? `, mec-cloud ${JSON.stringify(scenario.link)}` : ''})`, ['policy', 'p50 ms', 'p95 ms', 'deadline met', 'privacy violations', 'ran on device/mec/cloud', 'failed or refused (codes)', 'MB upstream', 'p95 / oracle'], rows);
    }
    await topology.links.set('mec-cloud', DEFAULT_LINKS['mec-cloud']);
  } finally {
    await device?.close().catch(() => undefined);
    await topology?.close().catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
  return p95s;
}

/** Requests per second the MEC node sustains for this mix, pinned there, two at a time. */
async function measureCapacity(device: DeviceClient): Promise<number> {
  const requests = requestsFor({ name: 'capacity', rate: 1, classes: [['public', 1]] }, 24, 1);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        await runOne(device, 'always-mec', request);
      }
    }),
  );
  return requests.length / ((performance.now() - started) / 1000);
}
