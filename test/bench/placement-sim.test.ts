/**
 * The placement simulation's mechanics, with fixed service times (no models): queueing against
 * theory, link serialisation, the oracle, privacy and outages.
 */
import { describe, expect, it } from 'vitest';
import {
  DEADLINE_MS,
  EventQueue,
  generateRequests,
  GrowthMeter,
  HEARTBEAT_MS,
  HEARTBEAT_TIMEOUT_MS,
  OursPolicy,
  POLICY_NAMES,
  scenarios,
  simulate,
  Timeline,
  TOPOLOGY,
  UNREACHABLE_AFTER_MISSES,
  type PolicyName,
  type RequestStream,
  type Scenario,
  type SimRequest,
  type Topology,
  type Workload,
} from '../../bench/placement/simulator.ts';
import { mbitToBytesPerMs } from '../../services/scheduler/estimators.ts';
import type { DataClass, PlacementTask, Tier } from '../../services/scheduler/types.ts';

// Chosen so that each tier is the fastest for something when idle: inspect on the device (6 ms
// there vs 8 on the MEC), detect on the MEC, ASR on the cloud (0.8 x 500 ms beats the links' cost).
const SERVICE_MS = { nanodet: 20, centernet: 25, defect: 2, asr: 500 } as const;
const workload: Workload = {
  inputs: {
    detect: [{ bytes: 125_000, answerBytes: 500 }],
    inspect: [{ bytes: 12_500, answerBytes: 250 }],
    asr: [{ bytes: 62_500, answerBytes: 400 }],
  },
  serviceMs: { nanodet: [[SERVICE_MS.nanodet]], centernet: [[SERVICE_MS.centernet]], defect: [[SERVICE_MS.defect]], asr: [[SERVICE_MS.asr]] },
  blurFacesMs: { detect: [[10]] },
};
const scenarioNamed = (name: string, requests = 2000): Scenario => scenarios(requests).find((scenario) => scenario.name === name)!;

/** A request with no jitter and the fixed service times, for hand-computed timelines. */
function request(id: number, at: number, task: PlacementTask, dataClass: DataClass = 'public', source = 0): SimRequest {
  const serviceMs: Partial<Record<Tier, number>> = {};
  for (const tier of ['device', 'mec', 'cloud'] as const) {
    const model = TOPOLOGY.tiers[tier].models[task];
    if (model) serviceMs[tier] = SERVICE_MS[model as keyof typeof SERVICE_MS] * TOPOLOGY.tiers[tier].factor;
  }
  const input = workload.inputs[task][0]!;
  return { id, at, source, task, dataClass, bytesUp: input.bytes, bytesDown: input.answerBytes, serviceMs, blurMs: task === 'detect' ? 30 : 0, jitter: [0, 0, 0, 0] };
}

const streamOf = (requests: SimRequest[], durationMs = 60_000): RequestStream => ({ requests, ratePerSecond: requests.length / (durationMs / 1000), durationMs });

describe('placement simulation', () => {
  it('the event queue pops in time order, equal times in insertion order', () => {
    const queue = new EventQueue<number>();
    const times = [5, 1, 9, 1, 3, 7, 1, 2];
    times.forEach((time, index) => queue.push(time, index));
    const popped: Array<[number, number]> = [];
    for (let next = queue.pop(); next; next = queue.pop()) popped.push([next.time, next.item]);
    expect(popped).toEqual([[1, 1], [1, 3], [1, 6], [2, 7], [3, 4], [5, 0], [7, 5], [9, 2]]);
  });

  it('a booking takes the earliest idle gap that fits, and never moves an earlier one', () => {
    const timeline = new Timeline();
    timeline.book(10, 20);
    timeline.book(30, 40);
    expect(timeline.earliest(0, 10)).toBe(0);
    expect(timeline.earliest(5, 10)).toBe(20);
    expect(timeline.earliest(21, 10)).toBe(40);
    timeline.book(20, 30);
    expect(timeline.earliest(12, 1)).toBe(40);
  });

  it('an M/D/1 queue at the MEC waits as Pollaczek-Khinchine says: rho s / (2 (1 - rho))', () => {
    const oneWorker: Topology = { ...TOPOLOGY, tiers: { ...TOPOLOGY.tiers, mec: { ...TOPOLOGY.tiers.mec, workers: 1 } } };
    // Tiny requests: the link adds almost nothing, so arrivals at the MEC stay Poisson.
    const tiny: Workload = { ...workload, inputs: { ...workload.inputs, detect: [{ bytes: 100, answerBytes: 100 }] } };
    // 20,000 requests: over seeds the mean wait at rho 0.7 spreads about +-8% around theory.
    for (const rho of [0.5, 0.7]) {
      const scenario: Scenario = { ...scenarioNamed('steady', 20_000), load: rho, taskMix: { detect: 1, inspect: 0, asr: 0 } };
      const stream = generateRequests(tiny, oneWorker, scenario, 7);
      const run = simulate(tiny, scenario, stream, 'always-mec', { topology: oneWorker });
      const meanWait = run.outcomes.reduce((sum, outcome) => sum + outcome.actual.queueMs, 0) / run.outcomes.length;
      const expected = (rho * SERVICE_MS.nanodet) / (2 * (1 - rho));
      expect(Math.abs(meanWait - expected) / expected).toBeLessThan(0.1);
      expect(run.outcomes.every((outcome) => outcome.tier === 'mec')).toBe(true);
    }
  });

  it('a link serialises transfers: the second of two simultaneous uploads waits for the first', () => {
    const run = simulate(workload, scenarioNamed('steady'), streamOf([request(0, 0, 'detect', 'public', 0), request(1, 0, 'detect', 'public', 1)]), 'always-mec');
    const bytesPerMs = mbitToBytesPerMs(100);
    const upload = 125_000 / bytesPerMs;
    const first = upload + 2.5 + SERVICE_MS.nanodet + 500 / bytesPerMs + 2.5;
    expect(upload).toBe(10);
    expect(run.outcomes[0]!.latencyMs).toBeCloseTo(first, 9);
    // Two MEC workers: the only wait is the link's.
    expect(run.outcomes[1]!.latencyMs).toBeCloseTo(first + upload, 9);
    expect(run.outcomes[1]!.actual.queueMs).toBe(0);
  });

  it('a request to the cloud crosses both links, each costing RTT + bytes / bandwidth', () => {
    const run = simulate(workload, scenarioNamed('steady'), streamOf([request(0, 0, 'detect')]), 'always-cloud');
    const network = 5 + 125_500 / mbitToBytesPerMs(100) + 40 + 125_500 / mbitToBytesPerMs(50);
    expect(run.outcomes[0]!.latencyMs).toBeCloseTo(network + SERVICE_MS.centernet * 0.8, 9);
    expect(run.bytesUp).toEqual({ 'device-mec': 125_000, 'mec-cloud': 125_000 });
  });

  it('always-device sends ASR to the MEC: the device holds no ASR model', () => {
    const run = simulate(workload, scenarioNamed('steady'), streamOf([request(0, 0, 'asr'), request(1, 10, 'inspect')]), 'always-device');
    expect(run.outcomes.map((outcome) => outcome.tier)).toEqual(['mec', 'device']);
  });

  it('with requests far apart, the oracle answers each as fast as the fastest tier the egress rule allows', () => {
    const tasks: PlacementTask[] = ['detect', 'inspect', 'asr'];
    const classes: DataClass[] = ['public', 'internal', 'restricted'];
    const requests = Array.from({ length: 27 }, (_, index) => request(index, 1000 * (index + 1), tasks[index % 3]!, classes[Math.floor(index / 3) % 3]!, index % 10));
    const runs = new Map<PolicyName, ReturnType<typeof simulate>>(POLICY_NAMES.map((policy) => [policy, simulate(workload, scenarioNamed('steady'), streamOf(requests), policy)]));
    const oracle = runs.get('oracle')!.outcomes;
    requests.forEach((_, index) => {
      const allowed = ['always-device', 'always-mec', 'always-cloud'].map((policy) => runs.get(policy as PolicyName)!.outcomes[index]!).filter((outcome) => !outcome.violation);
      expect(oracle[index]!.latencyMs).toBeCloseTo(Math.min(...allowed.map((outcome) => outcome.latencyMs)), 9);
      for (const policy of POLICY_NAMES) {
        const outcome = runs.get(policy)!.outcomes[index]!;
        if (!outcome.violation) expect(oracle[index]!.latencyMs).toBeLessThanOrEqual(outcome.latencyMs + 1e-9);
      }
    });
    // Not every request is best at one tier, or the comparison above would prove little.
    expect(new Set(oracle.map((outcome) => outcome.tier))).toEqual(new Set(['device', 'mec', 'cloud']));
  });

  it('restricted data never reaches the cloud under ours or the oracle, even when the cloud is the fast way out', () => {
    const scenario: Scenario = { ...scenarioNamed('mec-overloaded', 3000), classMix: { public: 0.3, internal: 0.2, restricted: 0.5 } };
    const stream = generateRequests(workload, TOPOLOGY, scenario, 3);
    const restricted = stream.requests.filter((r) => r.dataClass === 'restricted').length;
    for (const policy of ['ours', 'oracle'] as const) {
      const run = simulate(workload, scenario, stream, policy);
      expect(run.outcomes.filter((outcome) => outcome.request.dataClass === 'restricted' && outcome.tier === 'cloud')).toHaveLength(0);
      expect(run.outcomes.filter((outcome) => outcome.violation)).toHaveLength(0);
      // The cloud is used for the rest: its refusal above is the egress rule, not a preference.
      expect(run.outcomes.filter((outcome) => outcome.tier === 'cloud').length).toBeGreaterThan(100);
    }
    expect(simulate(workload, scenario, stream, 'always-cloud').outcomes.filter((outcome) => outcome.violation)).toHaveLength(restricted);
  });

  it('a cloud outage loses what is sent into it; ours stops sending once its heartbeats time out and resumes after', () => {
    const scenario: Scenario = { ...scenarioNamed('cloud-outage', 6000), load: 1.2 };
    const stream = generateRequests(workload, TOPOLOGY, scenario, 5);
    const [down, up] = [0.3 * stream.durationMs, 0.7 * stream.durationMs];
    // The MEC node's misses in a row (each a poll and its timeout), then a device heartbeat to relay it.
    const blind = down + UNREACHABLE_AFTER_MISSES * (HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS) + HEARTBEAT_MS;

    const always = simulate(workload, scenario, stream, 'always-cloud').outcomes;
    const during = always.filter((outcome) => outcome.request.at > down && outcome.request.at < up - 1000);
    expect(during.length).toBeGreaterThan(500);
    for (const outcome of during) {
      expect(outcome.lost).toBe(true);
      expect(outcome.latencyMs).toBe(Infinity);
      expect(outcome.metDeadline).toBe(false);
    }
    expect(always.filter((outcome) => outcome.request.at < down - 1000 || outcome.request.at > up).every((outcome) => !outcome.lost)).toBe(true);

    const ours = simulate(workload, scenario, stream, 'ours').outcomes;
    expect(ours.filter((outcome) => outcome.tier === 'cloud' && outcome.request.at > blind && outcome.request.at < up)).toHaveLength(0);
    expect(ours.filter((outcome) => outcome.lost).every((outcome) => outcome.request.at >= down - DEADLINE_MS.asr && outcome.request.at <= blind)).toBe(true);
    expect(ours.filter((outcome) => outcome.tier === 'cloud' && outcome.request.at > up + 2 * HEARTBEAT_MS).length).toBeGreaterThan(0);
  });

  it('an unpinned offload reaching a MEC node whose exact queue would miss the deadline is sent on to the cloud', () => {
    // Small photos (1 ms on the device-mec link): a burst of 40 from all ten devices reaches the
    // MEC node within ~50 ms, while every device's last heartbeat still shows it empty.
    const small: Workload = { ...workload, inputs: { ...workload.inputs, detect: [{ bytes: 12_500, answerBytes: 500 }] } };
    const burst = Array.from({ length: 40 }, (_, index) => ({ ...request(index, 2000 + index, 'detect', 'public', index % 10), bytesUp: 12_500 }));
    const scenario = scenarioNamed('steady');
    const twoLevel = simulate(small, scenario, streamOf(burst), 'ours').outcomes;
    // Every device chose the MEC node (it looked idle) and sent the request unpinned.
    expect(twoLevel.every((outcome) => outcome.deviceTier === 'mec')).toBe(true);
    // The MEC node kept what its two workers could serve in time and sent the rest on.
    const onCloud = twoLevel.filter((outcome) => outcome.mecTier === 'cloud');
    expect(onCloud.length).toBeGreaterThan(10);
    expect(onCloud.every((outcome) => outcome.tier === 'cloud')).toBe(true);
    expect(twoLevel.every((outcome) => outcome.metDeadline)).toBe(true);
    // Kept on the MEC node as the devices chose, the queue's tail is late.
    const kept = simulate(small, scenario, streamOf(burst), 'always-mec').outcomes;
    expect(kept.filter((outcome) => !outcome.metDeadline).length).toBeGreaterThan(5);
  });

  it('the MEC node refuses an offload no tier can serve in time, and the device falls back to its own model', () => {
    // Restricted data (no cloud) bursting at the MEC node: what it cannot serve in time goes back.
    const burst = Array.from({ length: 40 }, (_, index) => ({ ...request(index, 2000 + index / 10, 'detect', 'restricted', index % 10), bytesUp: 12_500 }));
    const outcomes = simulate(workload, scenarioNamed('steady'), streamOf(burst), 'ours').outcomes;
    const refused = outcomes.filter((outcome) => outcome.mecTier === 'refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((outcome) => outcome.tier === 'device' && outcome.deviceTier === 'mec')).toBe(true);
    expect(outcomes.some((outcome) => outcome.tier === 'cloud')).toBe(false);
  });

  it('a status reports growth only beyond twice the Poisson noise of a second of arrivals and completions', () => {
    let now = 0;
    const meter = new GrowthMeter(() => now);
    // 40 arrivals and 30 completions in the last second: 10/s is less than 2 x sqrt(70) = 16.7.
    for (let index = 0; index < 40; index += 1) {
      now = 1000 + index * 25;
      meter.arrived();
      if (index % 4 !== 0) meter.completed();
    }
    now = 2000;
    const light = meter.report();
    expect(light.arrivalsPerMs * 1000).toBeCloseTo(40, 0);
    expect(light.completionsPerMs * 1000).toBeCloseTo(30, 0);
    expect(light.growthPerMs).toBe(0);
    // 100 arrivals and 40 completions in the next second: 60/s is more than 2 x sqrt(140) = 23.7.
    for (let index = 0; index < 100; index += 1) {
      now = 2000 + index * 10;
      meter.arrived();
      if (index % 5 < 2) meter.completed();
    }
    now = 3000;
    expect(meter.report().growthPerMs * 1000).toBeCloseTo(60, 0);
  });

  it('a device that chooses the cloud sends the request unpinned: the MEC node makes the final choice', () => {
    // Public ASR far apart: the cloud is the fastest tier, and the MEC node, deciding, agrees.
    const requests = Array.from({ length: 5 }, (_, index) => request(index, 2000 + 1000 * index, 'asr', 'public', index));
    const outcomes = simulate(workload, scenarioNamed('steady'), streamOf(requests), 'ours').outcomes;
    for (const outcome of outcomes) {
      expect(outcome.deviceTier).toBe('cloud');
      expect(outcome.mecTier).toBe('cloud');
      expect(outcome.tier).toBe('cloud');
    }
  });

  it('the MEC node counts the uploads it has queued for the cloud: fewer go there, and the burst ends sooner', () => {
    // Public photos bursting from all devices: 60 ms on a MEC worker, 8 ms on the cloud, 125 kB
    // each (10 ms on the device-mec link, 20 ms on the mec-cloud one). The devices see the MEC node
    // idle and send it all; it spills over to the cloud, whose uplink then backs up.
    const slowEdge: Workload = { ...workload, serviceMs: { ...workload.serviceMs, nanodet: [[60]], centernet: [[10]] } };
    const burst = Array.from({ length: 12 }, (_, index) => ({ ...request(index, 2000 + index * 2, 'detect', 'public', index % 10), serviceMs: { device: 180, mec: 60, cloud: 8 } }));
    const counts = simulate(slowEdge, scenarioNamed('steady'), streamOf(burst), 'ours').outcomes;
    const blind = simulate(slowEdge, scenarioNamed('steady'), streamOf(burst), (env) => new OursPolicy(env, { uplinkBacklog: false })).outcomes;
    const onCloud = (outcomes: typeof counts) => outcomes.filter((outcome) => outcome.tier === 'cloud').length;
    const worst = (outcomes: typeof counts) => Math.max(...outcomes.map((outcome) => outcome.latencyMs));
    expect(counts.every((outcome) => outcome.deviceTier === 'mec')).toBe(true);
    expect(onCloud(blind)).toBeGreaterThan(0);
    expect(onCloud(counts)).toBeLessThan(onCloud(blind));
    expect(worst(counts)).toBeLessThan(worst(blind));
  });

  it('the congestion what-if sends a long job with slack from a queued MEC node to the cloud, plain ours keeps it', () => {
    // ASR at 100 ms on a MEC worker, 80 on the cloud but 250 kB up (40 ms on the mec-cloud link):
    // the third of a burst finds both MEC workers busy, 150 ms predicted there against ~160 on
    // the cloud. Its congestion cost (100 ms x 2 in system / 2 workers) tips it to the cloud.
    const longAsr: Workload = { ...workload, inputs: { ...workload.inputs, asr: [{ bytes: 250_000, answerBytes: 400 }] }, serviceMs: { ...workload.serviceMs, asr: [[100]] } };
    const burst = Array.from({ length: 3 }, (_, index) => ({ ...request(index, 2000 + index * 10, 'asr', 'public', index), bytesUp: 250_000, serviceMs: { mec: 100, cloud: 80 } }));
    const plain = simulate(longAsr, scenarioNamed('steady'), streamOf(burst), 'ours').outcomes;
    const congestion = simulate(longAsr, scenarioNamed('steady'), streamOf(burst), (env) => new OursPolicy(env, { congestionAlpha: 1, congestionAt: 'mec' })).outcomes;
    expect(plain.map((outcome) => outcome.mecTier)).toEqual(['mec', 'mec', 'mec']);
    expect(congestion.map((outcome) => outcome.mecTier)).toEqual(['mec', 'mec', 'cloud']);
    // Its prediction is the cloud's (~160 ms), the deadline check the plain one.
    expect(congestion[2]!.prediction!.totalMs).toBeGreaterThan(150);
    expect(congestion[2]!.prediction!.totalMs).toBeLessThan(200);
    expect(congestion.every((outcome) => outcome.metDeadline)).toBe(true);
  });

  it('a status reports the estimated work that entered over the last second, per ms', () => {
    let now = 0;
    const meter = new GrowthMeter(() => now);
    // 20 requests of 30 ms and 10 of 100 ms in a second: 1600 ms of work per s. Read at 2099, the
    // meter's window (nine whole 100-ms buckets and the current one) spans 1100..2099.
    for (let index = 0; index < 30; index += 1) {
      now = 1100 + index * 30;
      meter.arrived();
      meter.worked(index < 20 ? 30 : 100);
    }
    now = 2099;
    expect(meter.report().workPerMs).toBeCloseTo(1.6, 2);
    expect(meter.report().arrivalsPerMs * 1000).toBeCloseTo(30, 0);
  });

  it('the load-scaled congestion what-if leaves a lightly loaded MEC node alone and moves work off a busy one', () => {
    // ASR at 100 ms on a MEC worker, 80 on the cloud but 250 kB up (40 ms on the mec-cloud link):
    // ~125 ms predicted via the MEC node against ~160 via the cloud, and one every 60 ms never
    // queues on its two workers, so plain ours keeps them all. At 2 per s the MEC node's rho is
    // 0.1 (no cost); at 16.7 per s it is 0.83 (over the 0.6 threshold set here), a cost of
    // 0.5 x 100 ms x 0.83/0.17 = 245 ms that tips the next ones to the cloud once its arrival
    // meter has seen enough of them (and back while the cloud takes them and its rho drops).
    const longAsr: Workload = { ...workload, inputs: { ...workload.inputs, asr: [{ bytes: 250_000, answerBytes: 400 }] }, serviceMs: { ...workload.serviceMs, asr: [[100]] } };
    const asr = (index: number, at: number): SimRequest => ({ ...request(index, at, 'asr', 'public', index % 10), bytesUp: 250_000, serviceMs: { mec: 100, cloud: 80 } });
    const light = Array.from({ length: 5 }, (_, index) => asr(index, 2000 + index * 500));
    const busy = Array.from({ length: 40 }, (_, index) => asr(5 + index, 4500 + index * 60));
    const stream = streamOf([...light, ...busy]);
    const plain = simulate(longAsr, scenarioNamed('steady'), stream, 'ours').outcomes;
    const asking = simulate(longAsr, scenarioNamed('steady'), stream, (env) => new OursPolicy(env, { loadAlpha: 0.5, loadFrom: 'asking', loadThreshold: 0.6, congestionAt: 'mec' })).outcomes;
    const arriving = simulate(longAsr, scenarioNamed('steady'), stream, (env) => new OursPolicy(env, { loadAlpha: 0.5, loadFrom: 'arriving', loadThreshold: 0.6, congestionAt: 'mec' })).outcomes;
    const tiers = (outcomes: typeof plain) => outcomes.map((outcome) => outcome.mecTier);
    expect(tiers(plain).every((tier) => tier === 'mec')).toBe(true);
    // The light phase and the burst's first half second: the meter has not seen the load yet.
    expect(tiers(asking).slice(0, 12).every((tier) => tier === 'mec')).toBe(true);
    expect(tiers(asking).filter((tier) => tier === 'cloud').length).toBeGreaterThanOrEqual(8);
    expect(asking.every((outcome) => outcome.metDeadline)).toBe(true);
    // One task only: the mean compute of what arrives is the asking request's, the same rho.
    expect(tiers(arriving)).toEqual(tiers(asking));
  });

  it('the same seed gives the same run', () => {
    const scenario = scenarioNamed('steady', 500);
    const once = simulate(workload, scenario, generateRequests(workload, TOPOLOGY, scenario, 9), 'ours').outcomes.map((outcome) => outcome.latencyMs);
    const again = simulate(workload, scenario, generateRequests(workload, TOPOLOGY, scenario, 9), 'ours').outcomes.map((outcome) => outcome.latencyMs);
    expect(again).toEqual(once);
  });
});
