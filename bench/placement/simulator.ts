/**
 * A discrete-event simulation of three-tier placement, driven by measured compute figures, so that
 * placement policies can be compared side by side on long request traces (the same seeded stream
 * for every policy).
 *
 * Model
 *  - Tiers: one device per request source (1 worker, small variants, no ASR), the MEC (2 workers,
 *    small variants) and the cloud (8 workers, the large detector). Each is a FIFO multi-server
 *    queue; a request's service time on each tier is drawn once from the measured samples of its
 *    input, times the tier's speed factor, so every policy and the oracle see the same draw.
 *  - Links device-mec and mec-cloud: a transfer costs bytes / bandwidth on the link (a FIFO
 *    resource per direction, so concurrent transfers share the bandwidth) plus half the RTT each
 *    way, with +-10% RTT jitter. A request reaching a link that is down is lost: it fails at its
 *    deadline.
 *  - Internal data bound for the cloud has its faces blurred on the MEC node, on one of its
 *    workers (in its queue, as blur-faces runs through the node's admission gate), before the
 *    mec-cloud link (dispatcher.ts #forward).
 *  - Resources (each link direction, each worker) are booked when a request is placed: it takes
 *    the earliest idle gap that fits at or after it gets there, never moving an earlier booking
 *    (see Timeline). So a placement's whole timeline is known at once, which lets the oracle
 *    compare tiers exactly. Requests are placed in arrival order, so this is FIFO, except that a
 *    request may use an idle gap left before one booked earlier that gets there later. An
 *    offload that the MEC node decides (ours) is booked in two steps: the device-mec upload when
 *    the device sends it, the rest when it reaches the MEC node and is decided there.
 *  - Heartbeats, as peer-monitor.ts runs them: each device polls the MEC node, and the MEC node
 *    the cloud, every 200 ms on a timer of its own (random phase), one poll in flight at a time;
 *    the far end reports its load when the poll reaches it (requests in its system, arrivals and
 *    completions over the last second, metered by the dispatcher's own RateMeter, and their
 *    difference as growth when it exceeds twice its Poisson noise), and the answer arrives half an
 *    RTT later. A poll into a down link counts as missed after the 1 s timeout, as does a forward
 *    lost to it when the sender gives up; two misses in a row make a tier unreachable, and the
 *    next answer (or answered forward) makes it reachable again.
 *  - A binary-heap event queue orders what happens over time: arrivals, offloads reaching the MEC
 *    node, tier entry and exit (the loads heartbeats report, what compute estimators learn from),
 *    answers (what link estimators learn from) and the heartbeats' legs.
 *  - Service times are measured on a shared machine: their spread is real noise the oracle (which
 *    knows each request's draw) can exploit and no real policy can.
 *
 * Policies: always-device / always-mec / always-cloud (the nearest tier holding the task when the
 * named one does not), static-split (per task and data class, the tier with the lowest unloaded
 * prediction from an offline profile of the steady links, fixed), ours (services/scheduler
 * decide() on two levels, as the device SDK and the MEC node's dispatcher run it: see OursPolicy)
 * and the oracle (per request, the tier with the lowest actual latency, found by planning the
 * request on each allowed tier against the real state).
 * Privacy: the always-* policies ignore the egress rule and each forbidden placement is counted as
 * a violation; static-split, ours and the oracle respect it.
 */
import { mulberry32, type Random } from '../../services/client/camera/random.ts';
import { decide, withinDeadline, type EgressAnswer, type PlacementContext, type PlacementRequest } from '../../services/scheduler/decide.ts';
import { ComputeEstimator, LinkEstimator, mbitToBytesPerMs, type LinkEstimate } from '../../services/scheduler/estimators.ts';
import { currentInSystem, predict, predictQueueMs, type Prediction, type TierLoad, type TierView, type VariantView } from '../../services/scheduler/predict.ts';
import { RateMeter } from '../../services/dispatch/rate-meter.ts';
import { TIERS, type DataClass, type PlacementTask, type Tier, type Transform } from '../../services/scheduler/types.ts';

// ---------------------------------------------------------------------------------------------
// Assumptions
// ---------------------------------------------------------------------------------------------

/** Time allowed per task, end to end. */
export const DEADLINE_MS: Readonly<Record<PlacementTask, number>> = { detect: 300, inspect: 150, asr: 1500 };
export const TASK_MIX: Readonly<Record<PlacementTask, number>> = { detect: 0.6, inspect: 0.25, asr: 0.15 };
export const CLASS_MIX: Readonly<Record<DataClass, number>> = { public: 0.5, internal: 0.3, restricted: 0.2 };
/** The platform's defaults (config.ts placement.heartbeatMs, heartbeatTimeoutMs, unreachableAfterMisses; the device uses the same). */
export const HEARTBEAT_MS = 200;
export const HEARTBEAT_TIMEOUT_MS = 1000;
export const UNREACHABLE_AFTER_MISSES = 2;
/** Jitter: each crossing's half RTT varies uniformly by this share. */
export const RTT_JITTER = 0.1;

export type LinkName = 'device-mec' | 'mec-cloud';
export interface LinkSpec {
  rttMs: number;
  mbit: number;
}
export interface TierSpec {
  workers: number;
  /** Service time relative to the measured one (this machine stands for a MEC node). */
  factor: number;
  /** The model each task runs on this tier; a task missing here cannot run on it. */
  models: Partial<Record<PlacementTask, string>>;
}
export interface Topology {
  /** Request sources, each with a device of its own. */
  devices: number;
  tiers: Record<Tier, TierSpec>;
  links: Record<LinkName, LinkSpec>;
}

export const TOPOLOGY: Topology = {
  devices: 10,
  tiers: {
    // A phone or camera SoC: three times slower than the MEC node measured here.
    device: { workers: 1, factor: 3, models: { detect: 'nanodet', inspect: 'defect' } },
    mec: { workers: 2, factor: 1, models: { detect: 'nanodet', inspect: 'defect', asr: 'asr' } },
    cloud: { workers: 8, factor: 0.8, models: { detect: 'centernet', inspect: 'defect', asr: 'asr' } },
  },
  links: { 'device-mec': { rttMs: 5, mbit: 100 }, 'mec-cloud': { rttMs: 40, mbit: 50 } },
};

/** Variant size per model, for the answer. The bench sets no accuracy floor, so accuracy plays no part here. */
const VARIANT: Readonly<Record<string, string>> = { centernet: 'large' };

/** The egress rule the simulation applies (a table of its own: the project's policy engine is not used here). */
const EGRESS: Readonly<Record<DataClass, Partial<Record<Tier, Transform[]>>>> = {
  public: { device: [], mec: [], cloud: [] },
  internal: { device: [], mec: [], cloud: ['blur-faces'] },
  restricted: { device: [], mec: [] },
};

export function egress(dataClass: DataClass, to: Tier): EgressAnswer {
  const transforms = EGRESS[dataClass][to];
  return transforms ? { allowed: true, transforms } : { allowed: false, reason: `${dataClass} data may not reach ${to}` };
}

/** Path of links from the device to a tier, in order. */
const PATH: Readonly<Record<Tier, readonly LinkName[]>> = { device: [], mec: ['device-mec'], cloud: ['device-mec', 'mec-cloud'] };

// ---------------------------------------------------------------------------------------------
// Workload, scenarios, the request stream
// ---------------------------------------------------------------------------------------------

/** What the measurements give the simulation: per task its inputs, per model its service times per input. */
export interface Workload {
  inputs: Record<PlacementTask, ReadonlyArray<{ bytes: number; answerBytes: number }>>;
  /** Per model, per input of its task: service times (ms) on the measuring machine. */
  serviceMs: Record<string, number[][]>;
  /** Per task, per input: finding faces before an internal request may go to the cloud (none: no cost). */
  blurFacesMs: Partial<Record<PlacementTask, number[][]>>;
}

export interface LinkState {
  up: boolean;
  rttMs: number;
  bytesPerMs: number;
}

export interface Scenario {
  name: string;
  description: string;
  requests: number;
  /** Offered load as a share of the MEC's capacity (as if every request ran there). */
  load: number;
  taskMix: Readonly<Record<PlacementTask, number>>;
  classMix: Readonly<Record<DataClass, number>>;
  /** A link's state at time t of a run expected to last durationMs. */
  link(name: LinkName, nominal: LinkSpec, t: number, durationMs: number): LinkState;
}

export function nominalLink(spec: LinkSpec): LinkState {
  return { up: true, rttMs: spec.rttMs, bytesPerMs: mbitToBytesPerMs(spec.mbit) };
}

export function scenarios(requests: number): Scenario[] {
  const base = { requests, load: 0.5, taskMix: TASK_MIX, classMix: CLASS_MIX, link: (_: LinkName, spec: LinkSpec) => nominalLink(spec) };
  return [
    { ...base, name: 'steady', description: 'good links, offered load 50% of MEC capacity' },
    {
      ...base,
      name: 'cloud-degraded',
      description: 'mec-cloud RTT x5 and bandwidth /10 for the whole run',
      link: (name, spec) => (name === 'mec-cloud' ? { up: true, rttMs: spec.rttMs * 5, bytesPerMs: mbitToBytesPerMs(spec.mbit / 10) } : nominalLink(spec)),
    },
    {
      ...base,
      name: 'cloud-outage',
      description: 'mec-cloud down from 30% to 70% of the run',
      link: (name, spec, t, duration) => ({ ...nominalLink(spec), up: name !== 'mec-cloud' || t < 0.3 * duration || t >= 0.7 * duration }),
    },
    { ...base, name: 'mec-overloaded', description: 'offered load 2x MEC capacity', load: 2 },
    { ...base, name: 'privacy-mix', description: '70% restricted, 20% internal, 10% public', classMix: { public: 0.1, internal: 0.2, restricted: 0.7 } },
  ];
}

export interface SimRequest {
  id: number;
  /** Arrival at its device (ms). */
  at: number;
  source: number;
  task: PlacementTask;
  dataClass: DataClass;
  bytesUp: number;
  bytesDown: number;
  /** This request's service time on each tier holding its task (its draw times the tier factor). */
  serviceMs: Partial<Record<Tier, number>>;
  /** Finding faces on the MEC node (on one of its workers) before it may leave as internal data for the cloud. */
  blurMs: number;
  /** One uniform draw in [-1, 1] per crossing: device-mec up, mec-cloud up, mec-cloud down, device-mec down. */
  jitter: readonly [number, number, number, number];
}

export interface RequestStream {
  requests: SimRequest[];
  ratePerSecond: number;
  /** Expected length of the run (requests / rate), what scenario link changes are timed against. */
  durationMs: number;
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
const mean = (values: readonly number[]): number => (values.length === 0 ? 0 : sum(values) / values.length);

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

function pickWeighted<K extends string>(random: Random, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  let draw = random.next() * sum(entries.map(([, weight]) => weight));
  for (const [key, weight] of entries) {
    draw -= weight;
    if (draw < 0) return key;
  }
  return entries[entries.length - 1]![0];
}

/** Mean service time of a task on a tier, over its inputs (each equally likely). */
export function meanServiceMs(workload: Workload, topology: Topology, tier: Tier, task: PlacementTask): number | undefined {
  const model = topology.tiers[tier].models[task];
  if (model === undefined) return undefined;
  return mean((workload.serviceMs[model] ?? []).map(mean)) * topology.tiers[tier].factor;
}

/** Requests per second the MEC serves at full utilisation with the scenario's task mix. */
export function mecCapacityPerSecond(workload: Workload, topology: Topology, taskMix: Readonly<Record<PlacementTask, number>>): number {
  const tasks = Object.keys(taskMix) as PlacementTask[];
  const weight = sum(tasks.map((task) => taskMix[task]));
  const demandMs = sum(tasks.map((task) => (taskMix[task] / weight) * (meanServiceMs(workload, topology, 'mec', task) ?? 0)));
  return (topology.tiers.mec.workers * 1000) / demandMs;
}

/** The scenario's request stream: Poisson arrivals, tasks and classes by the mix, sources uniform. */
export function generateRequests(workload: Workload, topology: Topology, scenario: Scenario, seed: number): RequestStream {
  const random = mulberry32(seed);
  const ratePerSecond = scenario.load * mecCapacityPerSecond(workload, topology, scenario.taskMix);
  const meanGapMs = 1000 / ratePerSecond;
  const requests: SimRequest[] = [];
  let at = 0;
  for (let id = 0; id < scenario.requests; id += 1) {
    at += -Math.log(1 - random.next()) * meanGapMs;
    const task = pickWeighted(random, scenario.taskMix);
    const dataClass = pickWeighted(random, scenario.classMix);
    const inputs = workload.inputs[task];
    const input = random.integer(0, inputs.length - 1);
    // One draw per model: a request is as heavy for the same model on every tier, which only runs
    // it faster or slower (job size times server speed).
    const drawn = new Map<string, number>();
    const serviceMs: Partial<Record<Tier, number>> = {};
    for (const tier of TIERS) {
      const model = topology.tiers[tier].models[task];
      if (model === undefined) continue;
      if (!drawn.has(model)) drawn.set(model, random.pick(workload.serviceMs[model]![input]!));
      serviceMs[tier] = drawn.get(model)! * topology.tiers[tier].factor;
    }
    const blurSamples = workload.blurFacesMs[task]?.[input];
    // The MEC node blurs faces before the data leaves for the cloud (dispatcher.ts #forward).
    const blurMs = blurSamples && blurSamples.length > 0 ? random.pick(blurSamples) * topology.tiers.mec.factor : 0;
    const jitter = [0, 0, 0, 0].map(() => random.between(-1, 1)) as unknown as SimRequest['jitter'];
    requests.push({
      id,
      at,
      source: random.integer(0, topology.devices - 1),
      task,
      dataClass,
      bytesUp: inputs[input]!.bytes,
      bytesDown: inputs[input]!.answerBytes,
      serviceMs,
      blurMs,
      jitter,
    });
  }
  return { requests, ratePerSecond, durationMs: (scenario.requests / ratePerSecond) * 1000 };
}

// ---------------------------------------------------------------------------------------------
// The event queue
// ---------------------------------------------------------------------------------------------

/** A binary min-heap of timed events; equal times keep insertion order, so runs are reproducible. */
export class EventQueue<T> {
  readonly #heap: Array<{ time: number; seq: number; item: T }> = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(time: number, item: T): void {
    const heap = this.#heap;
    heap.push({ time, seq: this.#seq++, item });
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#before(index, parent)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  pop(): { time: number; item: T } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && this.#before(left, smallest)) smallest = left;
        if (right < heap.length && this.#before(right, smallest)) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
        index = smallest;
      }
    }
    return { time: top.time, item: top.item };
  }

  #before(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }
}

// ---------------------------------------------------------------------------------------------
// Plans: a request's timeline on one tier, computed against the booked resources
// ---------------------------------------------------------------------------------------------

export interface Crossing {
  link: LinkName;
  direction: 'up' | 'down';
  bytes: number;
  /** Handed to the link (it may wait there for earlier transfers). */
  readyAt: number;
  /** When the link direction is busy sending it. */
  sendStart: number;
  sendEnd: number;
  /** Arrival at the far end (after half the RTT). */
  arriveAt: number;
}

/** A stretch of work on one worker of a tier: arrival there, start, end. */
export interface Slot {
  arriveAt: number;
  startAt: number;
  endAt: number;
  worker: number;
}

export interface Plan {
  tier: Tier;
  /** False when a link on the way is down: the request is lost and fails at its deadline. */
  delivered: boolean;
  crossings: Crossing[];
  /** Finding faces on the MEC node before the cloud (internal data), when it applies. */
  blur?: Slot;
  /** At the tier. Undefined if lost on the way up. */
  service?: Slot;
  /** The answer back at the device, or (lost) the moment the device gives up: arrival + deadline. */
  finishAt: number;
  /** Run on the device after the MEC node refused it (the device's local fallback). */
  fallback?: boolean;
}

/**
 * When one resource (a link direction, a worker) is busy: disjoint busy intervals, sorted, merged
 * when they touch. A booking takes the earliest idle gap at or after its ready time that fits it,
 * so it never delays what was booked before it, and it is not held up by a booking that only
 * starts later (an answer booked ahead on the down link, say).
 */
export class Timeline {
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  /** The earliest start at or after `readyAt` with `durationMs` free. */
  earliest(readyAt: number, durationMs: number): number {
    let start = readyAt;
    for (let index = this.#firstEndingAfter(readyAt); index < this.#starts.length; index += 1) {
      if (this.#starts[index]! >= start + durationMs) break;
      start = Math.max(start, this.#ends[index]!);
    }
    return start;
  }

  book(start: number, end: number): void {
    if (end <= start) return;
    let index = this.#firstEndingAfter(start);
    // Merge with a neighbour that touches it (bookings come from earliest(), so none overlaps).
    if (index > 0 && this.#ends[index - 1]! >= start) index -= 1;
    if (index < this.#starts.length && this.#starts[index]! <= end && this.#ends[index]! >= start) {
      this.#starts[index] = Math.min(this.#starts[index]!, start);
      this.#ends[index] = Math.max(this.#ends[index]!, end);
      const next = index + 1;
      if (next < this.#starts.length && this.#starts[next]! <= this.#ends[index]!) {
        this.#ends[index] = Math.max(this.#ends[index]!, this.#ends[next]!);
        this.#starts.splice(next, 1);
        this.#ends.splice(next, 1);
      }
      return;
    }
    this.#starts.splice(index, 0, start);
    this.#ends.splice(index, 0, end);
  }

  /** Forgets intervals over before `t` (nothing is booked in the past). */
  forget(t: number): void {
    const keep = this.#firstEndingAfter(t);
    if (keep > 0) {
      this.#starts.splice(0, keep);
      this.#ends.splice(0, keep);
    }
  }

  /** The first interval whose end is after t (binary search over the sorted ends). */
  #firstEndingAfter(t: number): number {
    let low = 0;
    let high = this.#ends.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.#ends[mid]! <= t) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Which crossing of a request uses which jitter draw. */
const JITTER_SLOT: Readonly<Record<`${LinkName}/${'up' | 'down'}`, 0 | 1 | 2 | 3>> = {
  'device-mec/up': 0,
  'mec-cloud/up': 1,
  'mec-cloud/down': 2,
  'device-mec/down': 3,
};

/** Bytes of a refusal (an error body) sent back to the device. */
export const REFUSAL_BYTES = 600;

/** The state of the simulated world that plans read and commits book. */
class World {
  readonly #links = new Map<string, Timeline>();
  /** Per tier instance ('device/3', 'mec', 'cloud'): each worker's bookings. */
  readonly #workers = new Map<string, Timeline[]>();
  /** Requests in each tier instance's system now (waiting or served, blurs included): what heartbeats report. */
  readonly inSystem = new Map<string, number>();

  constructor(
    readonly topology: Topology,
    readonly scenario: Scenario,
    readonly durationMs: number,
  ) {
    const workers = (count: number) => Array.from({ length: count }, () => new Timeline());
    for (let source = 0; source < topology.devices; source += 1) this.#workers.set(`device/${source}`, workers(topology.tiers.device.workers));
    this.#workers.set('mec', workers(topology.tiers.mec.workers));
    this.#workers.set('cloud', workers(topology.tiers.cloud.workers));
    for (const link of Object.keys(topology.links)) for (const direction of ['up', 'down']) this.#links.set(`${link}/${direction}`, new Timeline());
  }

  static instance(tier: Tier, source: number): string {
    return tier === 'device' ? `device/${source}` : tier;
  }

  linkAt(name: LinkName, t: number): LinkState {
    return this.scenario.link(name, this.topology.links[name], t, this.durationMs);
  }

  /** One transfer handed to a link direction at t (undefined: the link is down); books nothing. */
  cross(request: SimRequest, link: LinkName, direction: 'up' | 'down', bytes: number, t: number): Crossing | undefined {
    const state = this.linkAt(link, t);
    if (!state.up) return undefined;
    const sendMs = bytes / state.bytesPerMs;
    const sendStart = this.#links.get(`${link}/${direction}`)!.earliest(t, sendMs);
    const halfRtt = (state.rttMs / 2) * (1 + RTT_JITTER * request.jitter[JITTER_SLOT[`${link}/${direction}`]]);
    return { link, direction, bytes, readyAt: t, sendStart, sendEnd: sendStart + sendMs, arriveAt: sendStart + sendMs + halfRtt };
  }

  #slot(tier: Tier, source: number, arriveAt: number, durationMs: number): Slot {
    const workers = this.#workers.get(World.instance(tier, source))!;
    let worker = 0;
    let startAt = Infinity;
    workers.forEach((timeline, index) => {
      const start = timeline.earliest(arriveAt, durationMs);
      if (start < startAt) [worker, startAt] = [index, start];
    });
    return { arriveAt, startAt, endAt: startAt + durationMs, worker };
  }

  /**
   * The request's timeline if placed on `tier`, from `from` at time `at`, after the crossings in
   * `prefix` (already booked); changes nothing. From the MEC node, the device-mec hop is behind it.
   */
  plan(request: SimRequest, tier: Tier, at: number, from: 'device' | 'mec' = 'device', prefix: readonly Crossing[] = []): Plan {
    const serviceMs = request.serviceMs[tier];
    if (serviceMs === undefined) throw new RangeError(`${tier} holds no model for ${request.task}`);
    const rule = egress(request.dataClass, tier);
    const blurMs = rule.allowed && rule.transforms.includes('blur-faces') ? request.blurMs : 0;
    const crossings: Crossing[] = [...prefix];
    let blur: Slot | undefined;
    const lost = (service?: Slot): Plan => ({
      tier,
      delivered: false,
      crossings,
      ...(blur ? { blur } : {}),
      ...(service ? { service } : {}),
      finishAt: request.at + DEADLINE_MS[request.task],
    });
    let t = at;
    for (const link of PATH[tier]) {
      if (from === 'mec' && link === 'device-mec') continue;
      // Faces are blurred on the MEC node, on one of its workers, before the data leaves for the cloud.
      if (link === 'mec-cloud' && blurMs > 0) {
        blur = this.#slot('mec', request.source, t, blurMs);
        t = blur.endAt;
      }
      const crossing = this.cross(request, link, 'up', request.bytesUp, t);
      if (!crossing) return lost();
      crossings.push(crossing);
      t = crossing.arriveAt;
    }
    const service = this.#slot(tier, request.source, t, serviceMs);
    t = service.endAt;
    for (const link of [...PATH[tier]].reverse()) {
      const crossing = this.cross(request, link, 'down', request.bytesDown, t);
      if (!crossing) return lost(service);
      crossings.push(crossing);
      t = crossing.arriveAt;
    }
    return { tier, delivered: true, crossings, ...(blur ? { blur } : {}), service, finishAt: t };
  }

  /** Books the plan's link time and workers, but for its first `booked` crossings (booked before). */
  commit(request: SimRequest, plan: Plan, booked = 0): void {
    for (const crossing of plan.crossings.slice(booked)) this.book(crossing);
    if (plan.blur) this.#workers.get('mec')![plan.blur.worker]!.book(plan.blur.startAt, plan.blur.endAt);
    if (plan.service) this.#workers.get(World.instance(plan.tier, request.source))![plan.service.worker]!.book(plan.service.startAt, plan.service.endAt);
  }

  book(crossing: Crossing): void {
    this.#links.get(`${crossing.link}/${crossing.direction}`)!.book(crossing.sendStart, crossing.sendEnd);
  }

  /** How long a request needing `serviceMs` that reaches the tier at `at` would wait for a worker. */
  waitMs(tier: Tier, source: number, at: number, serviceMs: number): number {
    return this.#slot(tier, source, at, serviceMs).startAt - at;
  }

  /** How long a transfer of `bytes` handed to the link's up direction at `at` waits for the link. */
  linkWaitMs(link: LinkName, at: number, bytes: number): number {
    const state = this.linkAt(link, at);
    return state.up ? this.#links.get(`${link}/up`)!.earliest(at, bytes / state.bytesPerMs) - at : 0;
  }

  /** Drops bookings that ended before `t`, so searches stay short. */
  forget(t: number): void {
    for (const timeline of this.#links.values()) timeline.forget(t);
    for (const workers of this.#workers.values()) for (const timeline of workers) timeline.forget(t);
  }
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

export const POLICY_NAMES = ['always-device', 'always-mec', 'always-cloud', 'static-split', 'ours', 'oracle'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
export const STATIC_POLICIES: readonly PolicyName[] = ['always-device', 'always-mec', 'always-cloud', 'static-split'];

/**
 * A policy's answer. `viaMec`: the request goes to the MEC node, which decides again (no pin) or
 * carries out the pinned tier, as the device SDK's requests do (device-client.ts #send).
 */
export type Choice = { tier: Tier; prediction?: Prediction; viaMec?: { pin?: Tier } } | { reject: string };

/**
 * A tier's load as its heartbeat status reports it (tier-status.ts), taken at `at`: arrivals and
 * completions per ms over the last second, and growth = their difference when it exceeds twice its
 * Poisson noise, else 0 (dispatcher.ts #growth).
 */
export interface LoadReport {
  at: number;
  inSystem: number;
  arrivalsPerMs: number;
  completionsPerMs: number;
  growthPerMs: number;
  /**
   * What-if field, not in tier-status.ts (D5): the estimated compute (ms) of what entered the tier
   * over the last second (requests and, on the MEC node, blur runs), per ms. Over the workers it
   * is the tier's utilisation.
   */
  workPerMs: number;
}

/** A request answered on its device: what the device (and the MEC on the way) can observe. */
export interface Answer {
  request: SimRequest;
  plan: Plan;
}

export interface Policy {
  readonly name: string;
  choose(request: SimRequest, now: number): Choice;
  /** The MEC node's decision on a request a device sent it (x-deadline-ms = `deadlineMs`, x-placement-tier = `pin`). */
  decideAtMec?(request: SimRequest, now: number, deadlineMs: number, pin: Tier | undefined): Choice;
  /** A heartbeat answered: the MEC node's of the cloud ('mec'), or device `source`'s of the MEC node. */
  heartbeat?(from: 'mec' | number, report: LoadReport, rttMs: number, now: number): void;
  /** A heartbeat timed out, or (from 'mec') a forward to the cloud was lost: a miss for that monitor. */
  missed?(from: 'mec' | number, now: number): void;
  /** The MEC node hands `bytes` for the cloud to its uplink (after any transform). */
  forwarded?(bytes: number, now: number): void;
  /** A tier finished a run (what its compute estimator learns). */
  served?(tier: Tier, source: number, model: string, ms: number): void;
  /** The MEC node finished blurring faces, `ms` from asking to done (what its transform cost learns), `runMs` of it running. */
  blurred?(ms: number, runMs: number): void;
  answered?(answer: Answer): void;
}

/** What policies may read of the world: ours only its own device's queue and (as the MEC node) the MEC's, the oracle everything. */
export interface PolicyEnvironment {
  topology: Topology;
  workload: Workload;
  heartbeatMs: number;
  deviceInSystem(source: number): number;
  plan(request: SimRequest, tier: Tier): Plan;
  /** Requests in a tier's system now (the MEC node reads its own), and, for what-if runs only, the wait of one reaching a tier at `at`. */
  inSystem(tier: Tier, source: number): number;
  /** What-if runs only: the mean compute of the requests in a tier's system now (each at its task's mean there; blurs at their median). */
  estimatedWorkMs(tier: Tier, source: number): number;
  waitMs(tier: Tier, source: number, at: number, serviceMs: number): number;
  /** What-if runs only: how long a transfer of `bytes` handed to a link's uplink at `at` waits for the ones ahead. */
  linkWaitMs(link: LinkName, at: number, bytes: number): number;
  /** The MEC node's own meters now (what its next status would report; the D5 what-if reads them). */
  ownRates(): Rates;
}

/** A tier's metered rates, as its status reports them. */
export type Rates = Pick<LoadReport, 'arrivalsPerMs' | 'workPerMs'>;

const holds = (topology: Topology, tier: Tier, task: PlacementTask): boolean => topology.tiers[tier].models[task] !== undefined;

/** The named tier, or the nearest one that holds the task (ties: towards the device). */
function nearestHolding(topology: Topology, tier: Tier, task: PlacementTask): Tier {
  const at = TIERS.indexOf(tier);
  const byDistance = [...TIERS].sort((a, b) => Math.abs(TIERS.indexOf(a) - at) - Math.abs(TIERS.indexOf(b) - at) || TIERS.indexOf(a) - TIERS.indexOf(b));
  const found = byDistance.find((candidate) => holds(topology, candidate, task));
  if (!found) throw new RangeError(`no tier holds ${task}`);
  return found;
}

function alwaysPolicy(name: PolicyName, tier: Tier, topology: Topology): Policy {
  return { name, choose: (request) => ({ tier: nearestHolding(topology, tier, request.task) }) };
}

/** Median service time of a model over all its samples, times a tier's factor. */
function medianServiceMs(workload: Workload, topology: Topology, tier: Tier, model: string): number {
  return medianOf((workload.serviceMs[model] ?? []).flat()) * topology.tiers[tier].factor;
}

/** Median cost of finding faces on the MEC node, for one task's inputs or (no task) all of them. */
function medianBlurMs(workload: Workload, topology: Topology, task?: PlacementTask): number {
  const samples = task === undefined ? Object.values(workload.blurFacesMs).flatMap((perInput) => perInput.flat()) : (workload.blurFacesMs[task]?.flat() ?? []);
  return samples.length === 0 ? 0 : medianOf(samples) * topology.tiers.mec.factor;
}

/**
 * Neurosurgeon-style: decided once, offline, from a profile of the steady links with empty queues:
 * per (task, data class) the allowed tier with the lowest predicted latency, kept for every request.
 */
function staticSplitPolicy(env: PolicyEnvironment): Policy {
  const { topology, workload } = env;
  const table = new Map<string, Tier>();
  const links = (tier: Tier): LinkEstimate[] => PATH[tier].map((name) => nominalLink(topology.links[name]));
  for (const task of Object.keys(DEADLINE_MS) as PlacementTask[]) {
    const bytesUp = mean(workload.inputs[task].map((input) => input.bytes));
    const bytesDown = mean(workload.inputs[task].map((input) => input.answerBytes));
    for (const dataClass of Object.keys(EGRESS) as DataClass[]) {
      let best: { tier: Tier; ms: number } | undefined;
      for (const tier of TIERS) {
        const model = topology.tiers[tier].models[task];
        const rule = egress(dataClass, tier);
        if (model === undefined || !rule.allowed) continue;
        const computeMs = medianServiceMs(workload, topology, tier, model);
        const view: TierView = { tier, reachable: true, path: links(tier), load: { inSystem: 0, workers: topology.tiers[tier].workers }, variants: [] };
        const variant: VariantView = { model, variant: VARIANT[model] ?? 'small', accuracy: 0, computeMs, computeStdMs: 0 };
        const away = tier !== 'device';
        const transformMs = rule.transforms.includes('blur-faces') ? medianBlurMs(workload, topology, task) : 0;
        const ms = predict(view, variant, away ? bytesUp : 0, away ? bytesDown : 0, transformMs).totalMs;
        if (!best || ms < best.ms) best = { tier, ms };
      }
      if (best) table.set(`${task}/${dataClass}`, best.tier);
    }
  }
  return {
    name: 'static-split',
    choose: (request) => {
      const tier = table.get(`${request.task}/${request.dataClass}`);
      return tier ? { tier } : { reject: `no allowed tier holds ${request.task}` };
    },
  };
}

/** Per request, the allowed tier with the earliest actual answer, planned against the real state. */
function oraclePolicy(env: PolicyEnvironment): Policy {
  return {
    name: 'oracle',
    choose: (request) => {
      let best: Plan | undefined;
      for (const tier of TIERS) {
        if (!holds(env.topology, tier, request.task) || !egress(request.dataClass, tier).allowed) continue;
        const plan = env.plan(request, tier);
        if (!plan.delivered) continue;
        if (!best || plan.finishAt < best.finishAt) best = plan;
      }
      return best ? { tier: best.tier } : { reject: 'every allowed tier is cut off' };
    },
  };
}

/**
 * A diagnostic, not one of the compared policies: the oracle's choice made with each tier's mean
 * service time for the task instead of this request's own draw. It knows every queue and link
 * exactly but not how long this one request will run, so the gap between it and the oracle is what
 * knowing the draw is worth - a gap no online policy can close.
 */
export function drawBlindOraclePolicy(env: PolicyEnvironment): Policy {
  const typical = (request: SimRequest): SimRequest => {
    const serviceMs: Partial<Record<Tier, number>> = {};
    for (const tier of TIERS) if (request.serviceMs[tier] !== undefined) serviceMs[tier] = meanServiceMs(env.workload, env.topology, tier, request.task)!;
    return { ...request, serviceMs };
  };
  return {
    name: 'oracle, blind to service draws',
    choose: (request) => {
      let best: Plan | undefined;
      for (const tier of TIERS) {
        if (!holds(env.topology, tier, request.task) || !egress(request.dataClass, tier).allowed) continue;
        const plan = env.plan(typical(request), tier);
        if (!plan.delivered) continue;
        if (!best || plan.finishAt < best.finishAt) best = plan;
      }
      return best ? { tier: best.tier } : { reject: 'every allowed tier is cut off' };
    },
  };
}

interface ComputeFigure {
  meanMs: number;
  stdMs: number;
}

/** The cloud's status as the MEC node last received it. */
interface CloudStatus {
  /** When the cloud measured it, as the MEC node estimates it (answer's arrival - RTT / 2, peer-monitor.ts). */
  at: number;
  report: LoadReport;
  compute: Record<string, ComputeFigure>;
}

/** The MEC node's status as a device last received it, with the MEC node's view of the cloud. */
interface MecStatus {
  at: number;
  report: LoadReport;
  compute: Record<string, ComputeFigure>;
  blurMs: number;
  cloud: { reachable: boolean; link: LinkEstimate; statusAgeMs: number; status?: CloudStatus };
}

/** A peer monitor's circuit (peer-monitor.ts): open after so many misses in a row, closed by the next success. */
class MonitorCircuit {
  #misses = 0;

  success(): void {
    this.#misses = 0;
  }

  failure(): void {
    this.#misses += 1;
  }

  /** Reachable as far as misses go (the caller also needs a status heard at least once). */
  get closed(): boolean {
    return this.#misses < UNREACHABLE_AFTER_MISSES;
  }
}

/**
 * What ours knows of remote queues. 'heartbeat' is the platform's design (and the only one the
 * targets are checked on). 'exact-wait' is a what-if: every remote view (the device's of the MEC
 * and the cloud, the MEC node's of the cloud) gets the real wait now, handed to decide() as the
 * count that predict()'s queue formula turns into that wait, and the MEC node's uplink its real
 * backlog - no staleness and a perfect queue model.
 */
export type LoadInsight = 'heartbeat' | 'exact-wait';

/**
 * How ours checks deadlines. 'pessimistic' is decide() as it is (mean + one standard deviation of
 * compute + a tenth of the path RTT); the what-ifs: 'mean' hands decide() no compute spread,
 * 'none' no deadline (it never rejects a request some tier can take).
 */
export type DeadlineCheck = 'pessimistic' | 'mean' | 'none';

/** Ours as the platform runs it by default; each flag set to false is the engine before that change (heartbeats: RunOptions.heartbeatMs). */
export interface OursVariant {
  insight?: LoadInsight;
  deadlineCheck?: DeadlineCheck;
  /** P1: extrapolate the growth the status reports, 0 unless beyond twice its noise; false: arrivals - completions as they come. */
  gatedGrowth?: boolean;
  /** P2: every offload goes unpinned, the MEC node decides between itself and the cloud; false: a device's 'cloud' choice is pinned. */
  cloudUnpinned?: boolean;
  /** P3, first half: the MEC node adds its uplink backlog to the cloud path. */
  uplinkBacklog?: boolean;
  /** P3, second half: the MEC node adds to blur-faces' cost the wait for one of its workers. */
  blurWait?: boolean;
  /**
   * What-if of a proposed change (P5): the MEC node predicts the wait in its own queue from the
   * work ahead (each request in its system at its model's mean, blurs at theirs) instead of their
   * count times the asking request's own compute time.
   */
  ownWork?: boolean;
  /** What-if of a proposed change (P6): the MEC node learns blur-faces' run time alone (not the wait for a worker), so P3's added wait is not counted twice. */
  blurRunOnly?: boolean;
  /**
   * What-if of an idea, not in services/ (D4): rank the tiers that pass the deadline check by
   * predicted latency + `alpha` x the delay this request adds to the ones arriving behind it
   * (compute x min(in system, capPerWorker x workers) / workers; 0 while a worker is free). The
   * deadline check and the reported prediction stay the plain ones. 0: off.
   */
  congestionAlpha?: number;
  /** The externality counts at most this many requests in system per worker (Infinity: unbounded). */
  congestionCapPerWorker?: number;
  /** Where the congestion cost (D4 or D5) is added: both decisions, or only the MEC node's (itself or the cloud). */
  congestionAt?: 'device-and-mec' | 'mec';
  /**
   * What-if of an idea, not in services/ (D5): like D4, but the cost scales with how busy the
   * shared tier is rather than with its queue now: alpha x compute x rho / (1 - rho), capped at
   * `loadFactorCap` (rho >= 1 too), 0 while rho < `loadThreshold`; the device is not charged.
   * 0: off. rho per `loadFrom`.
   */
  loadAlpha?: number;
  /**
   * 'asking': rho = reported arrivals/ms x the asking request's learned compute there / workers
   * (figures the status carries today). 'arriving': rho = reported work/ms / workers, the mean
   * compute of what arrives (needs the new work figure in the status).
   */
  loadFrom?: 'asking' | 'arriving';
  /** rho below this costs nothing (default 0.8: steady runs at ~0.5, with a second's noise on top). */
  loadThreshold?: number;
  /** The most rho / (1 - rho) counts (default 9, rho = 0.9); an overloaded tier's rho >= 1 counts this. */
  loadFactorCap?: number;
}

/**
 * Our placement engine as the platform runs it, on two levels. The device runs decide() (self =
 * device) on its own queue, the MEC node's last heartbeat status (count and growth, extrapolated
 * over the status' age) and the cloud as the MEC node relays it (age = MEC status age + the cloud
 * status' age at the MEC node). Every offload goes unpinned: the MEC node runs decide() again
 * (self = mec) on its exact queue and its heartbeat view of the cloud (plus what it has queued on
 * its uplink, estimated as a FIFO at the link's estimated bandwidth), with the x-deadline-ms the
 * device sent, and may spill over to the cloud; if it refuses, the device falls back to its own
 * model when it has one. Compute figures are each tier's own estimator, relayed in its status;
 * links are estimated by the end that uses them, from heartbeat RTTs and completed transfers.
 */
export class OursPolicy implements Policy {
  readonly name: string;
  /** Wall time of each decide() call, device's and MEC node's (ns). */
  readonly decideNs: number[] = [];
  readonly #env: PolicyEnvironment;
  readonly #variant: Required<OursVariant>;
  readonly #deviceCompute: ComputeEstimator[] = [];
  readonly #tierCompute: Record<'mec' | 'cloud', ComputeEstimator>;
  readonly #deviceMec: LinkEstimator[] = [];
  readonly #mecCloud: LinkEstimator;
  /** The MEC node's learned cost of blur-faces, asking to done (one figure, as TransformCosts keeps it). */
  #blurMs: number;
  /** Its run time alone, without the wait for a worker (the 'blurRunOnly' what-if learns this instead). */
  #blurRunMs: number;
  /** When the MEC node's uploads to the cloud handed over so far will have left, by its estimate (dispatcher.ts #uplinkBusyUntil). */
  #uplinkBusyUntil = 0;
  #cloudStatus: CloudStatus | undefined;
  readonly #cloudCircuit = new MonitorCircuit();
  readonly #heard: Array<MecStatus | undefined> = [];
  readonly #mecCircuits: MonitorCircuit[] = [];

  constructor(env: PolicyEnvironment, variant: OursVariant = {}) {
    this.#env = env;
    this.#variant = { insight: 'heartbeat', deadlineCheck: 'pessimistic', gatedGrowth: true, cloudUnpinned: true, uplinkBacklog: true, blurWait: false, ownWork: false, blurRunOnly: false, congestionAlpha: 0, congestionCapPerWorker: 4, congestionAt: 'device-and-mec', loadAlpha: 0.1, loadFrom: 'arriving', loadThreshold: 0.8, loadFactorCap: 9, ...variant };
    const v = this.#variant;
    const whatIf = [
      v.insight === 'heartbeat' ? '' : v.insight,
      v.deadlineCheck === 'pessimistic' ? '' : `deadline ${v.deadlineCheck}`,
      v.gatedGrowth ? '' : 'growth ungated',
      v.cloudUnpinned ? '' : 'cloud pinned',
      v.uplinkBacklog ? '' : 'MEC blind to its uplink backlog',
      v.blurWait ? 'blur wait counted on top of the learned blur cost' : '',
      v.ownWork ? 'MEC queue from its work' : '',
      v.blurRunOnly ? 'blur cost without its wait' : '',
      v.congestionAlpha > 0 ? `congestion cost x${v.congestionAlpha} (cap ${v.congestionCapPerWorker} per worker${v.congestionAt === 'mec' ? ', MEC node only' : ''})` : '',
      v.loadAlpha > 0 ? `load-scaled congestion cost x${v.loadAlpha} (rho from ${v.loadFrom}, over ${v.loadThreshold}, factor cap ${v.loadFactorCap}${v.congestionAt === 'mec' ? ', MEC node only' : ''})` : '',
    ].filter(Boolean);
    this.name = whatIf.length === 0 ? 'ours' : `ours, what-if ${whatIf.join(', ')}`;
    const { topology, workload } = env;
    const estimatorOf = (tier: Tier): ComputeEstimator => {
      const compute = new ComputeEstimator();
      for (const model of Object.values(topology.tiers[tier].models)) compute.prior(tier, model, medianServiceMs(workload, topology, tier, model));
      return compute;
    };
    // Priors: the measured medians, and the links' nominal figures (what the operator configures).
    const prior = (name: LinkName): LinkEstimate => nominalLink(topology.links[name]);
    for (let source = 0; source < topology.devices; source += 1) {
      this.#deviceCompute.push(estimatorOf('device'));
      this.#deviceMec.push(new LinkEstimator(prior('device-mec')));
      this.#heard.push(undefined);
      this.#mecCircuits.push(new MonitorCircuit());
    }
    this.#tierCompute = { mec: estimatorOf('mec'), cloud: estimatorOf('cloud') };
    this.#mecCloud = new LinkEstimator(prior('mec-cloud'));
    this.#blurMs = medianBlurMs(workload, topology);
    this.#blurRunMs = this.#blurMs;
  }

  /** What the MEC node's TransformCosts holds for blur-faces. */
  #learnedBlurMs(): number {
    return this.#variant.blurRunOnly ? this.#blurRunMs : this.#blurMs;
  }

  #figures(tier: 'mec' | 'cloud'): Record<string, ComputeFigure> {
    const figures: Record<string, ComputeFigure> = {};
    for (const model of Object.values(this.#env.topology.tiers[tier].models)) {
      const estimate = this.#tierCompute[tier].estimate(tier, model);
      if (estimate) figures[model] = estimate;
    }
    return figures;
  }

  /** The MEC node's own monitor of the cloud: a status heard and its circuit closed. */
  #cloudReachable(): boolean {
    return this.#cloudStatus !== undefined && this.#cloudCircuit.closed;
  }

  heartbeat(from: 'mec' | number, report: LoadReport, rttMs: number, now: number): void {
    if (from === 'mec') {
      this.#mecCloud.observeRtt(rttMs);
      this.#cloudStatus = { at: now - rttMs / 2, report, compute: this.#figures('cloud') };
      this.#cloudCircuit.success();
      return;
    }
    this.#deviceMec[from]!.observeRtt(rttMs);
    this.#mecCircuits[from]!.success();
    const cloud = this.#cloudStatus;
    this.#heard[from] = {
      at: now - rttMs / 2,
      report,
      compute: this.#figures('mec'),
      blurMs: this.#learnedBlurMs(),
      cloud: {
        reachable: this.#cloudReachable(),
        link: this.#mecCloud.estimate(),
        statusAgeMs: cloud ? Math.max(0, report.at - cloud.at) : 0,
        ...(cloud ? { status: cloud } : {}),
      },
    };
  }

  missed(from: 'mec' | number): void {
    if (from === 'mec') this.#cloudCircuit.failure();
    else this.#mecCircuits[from]!.failure();
  }

  forwarded(bytes: number, now: number): void {
    this.#uplinkBusyUntil = Math.max(now, this.#uplinkBusyUntil) + bytes / this.#mecCloud.estimate().bytesPerMs;
  }

  served(tier: Tier, source: number, model: string, ms: number): void {
    if (tier === 'device') this.#deviceCompute[source]!.observe(tier, model, ms);
    else this.#tierCompute[tier].observe(tier, model, ms);
  }

  blurred(ms: number, runMs: number): void {
    this.#blurMs = 0.8 * this.#blurMs + 0.2 * ms;
    this.#blurRunMs = 0.8 * this.#blurRunMs + 0.2 * runMs;
  }

  answered({ request, plan }: Answer): void {
    // A refusal's round trip is not a transfer of the request (the SDK learns only from answers).
    if (plan.fallback) return;
    // An answered forward closes the circuit like an answered heartbeat (reportSuccess).
    if (plan.tier !== 'device') this.#mecCircuits[request.source]!.success();
    if (plan.tier === 'cloud') this.#cloudCircuit.success();
    // Each end measures its link's share: from handing the request over to the answer's arrival,
    // less the time the far end held it (which the far end reports with the answer).
    const share = (link: LinkName): number | undefined => {
      const up = plan.crossings.find((crossing) => crossing.link === link && crossing.direction === 'up');
      const down = plan.crossings.find((crossing) => crossing.link === link && crossing.direction === 'down');
      return up && down ? down.arriveAt - up.readyAt - (down.readyAt - up.arriveAt) : undefined;
    };
    const bytes = request.bytesUp + request.bytesDown;
    const deviceMecMs = share('device-mec');
    if (deviceMecMs !== undefined) this.#deviceMec[request.source]!.observeTransfer(bytes, deviceMecMs);
    const mecCloudMs = plan.tier === 'cloud' ? share('mec-cloud') : undefined;
    if (mecCloudMs !== undefined) this.#mecCloud.observeTransfer(bytes, mecCloudMs);
  }

  #variants(request: SimRequest, tier: Tier, figures: Record<string, ComputeFigure> | undefined): VariantView[] {
    const model = this.#env.topology.tiers[tier].models[request.task];
    const figure = model === undefined ? undefined : tier === 'device' ? this.#deviceCompute[request.source]!.estimate(tier, model) : figures?.[model];
    if (model === undefined || !figure) return [];
    return [{ model, variant: VARIANT[model] ?? 'small', accuracy: 0, computeMs: figure.meanMs, computeStdMs: this.#variant.deadlineCheck === 'pessimistic' ? figure.stdMs : 0 }];
  }

  /** A remote tier's load as reported, extrapolated over its age by the growth (P1: as reported, gated; before: arrivals - completions). */
  #reported(tier: Tier, report: LoadReport | undefined, ageMs: number): TierLoad {
    const workers = this.#env.topology.tiers[tier].workers;
    if (!report) return { inSystem: 0, workers };
    const growthPerMs = this.#variant.gatedGrowth ? report.growthPerMs : report.arrivalsPerMs - report.completionsPerMs;
    return { inSystem: report.inSystem, workers, ageMs, growthPerMs };
  }

  #decide(request: SimRequest, views: TierView[], self: Tier, deadlineMs: number, pin: Tier | undefined, transformMs: number, rates: Partial<Record<Tier, Rates>>): Choice {
    const context: PlacementContext = { egress, self, transformMs: { 'blur-faces': transformMs }, policyVersion: 'bench' };
    const placementRequest = {
      task: request.task,
      dataClass: request.dataClass,
      bytesUp: request.bytesUp,
      bytesDown: request.bytesDown,
      deadlineMs: this.#variant.deadlineCheck === 'none' ? Infinity : deadlineMs,
      ...(pin === undefined ? {} : { pin }),
    };
    const started = process.hrtime.bigint();
    const decision = decide(placementRequest, views, context);
    this.decideNs.push(Number(process.hrtime.bigint() - started));
    if (!decision.feasible) return { reject: decision.message };
    const congestionHere = this.#variant.congestionAt === 'device-and-mec' || self === 'mec';
    const priced = this.#variant.congestionAlpha > 0 || this.#variant.loadAlpha > 0;
    if (priced && congestionHere && pin === undefined && decision.reason !== 'only-eligible') return this.#leastCongesting(placementRequest, views, context, rates);
    return { tier: decision.tier, prediction: decision.prediction };
  }

  /**
   * The congestion what-ifs (D4, D5): among the tiers predicted in time (each tier's plain
   * prediction, by decide() pinned to it), the lowest predicted latency + its congestion cost.
   */
  #leastCongesting(placementRequest: PlacementRequest, views: readonly TierView[], context: PlacementContext, rates: Partial<Record<Tier, Rates>>): Choice {
    let best: { tier: Tier; prediction: Prediction; cost: number } | undefined;
    const candidates = views.flatMap((view) => {
      const pinned = decide({ ...placementRequest, pin: view.tier }, views, context);
      return pinned.feasible ? [{ view, pinned }] : [];
    });
    // decide()'s own deadline check over the same predictions.
    const { inTime } = withinDeadline(candidates, ({ pinned }) => pinned.prediction, placementRequest.deadlineMs);
    for (const { view, pinned } of inTime) {
      const computeMs = pinned.prediction.computeMs;
      const queued = this.#variant.congestionAlpha * this.#externalityMs(view.load, computeMs);
      const rated = rates[view.tier];
      const loaded = rated === undefined ? 0 : this.#variant.loadAlpha * computeMs * this.#loadFactor(this.#utilisation(rated, computeMs, view.load.workers));
      const cost = pinned.prediction.totalMs + queued + loaded;
      if (!best || cost < best.cost) best = { tier: view.tier, prediction: pinned.prediction, cost };
    }
    // decide() found a tier in time, so one of its pinned runs passes the same check.
    return { tier: best!.tier, prediction: best!.prediction };
  }

  /** D5: a shared tier's utilisation per worker, from its reported rates (see `loadFrom`). */
  #utilisation(rates: Rates, computeMs: number, workers: number): number {
    const busyPerMs = this.#variant.loadFrom === 'asking' ? rates.arrivalsPerMs * computeMs : rates.workPerMs;
    return busyPerMs / Math.max(1, workers);
  }

  /** D5: rho / (1 - rho), what one more request costs those behind it in an M/M/1-like queue, in units of its compute; 0 below the threshold. */
  #loadFactor(rho: number): number {
    if (rho < this.#variant.loadThreshold) return 0;
    return rho >= 1 ? this.#variant.loadFactorCap : Math.min(rho / (1 - rho), this.#variant.loadFactorCap);
  }

  /** What one more request on this tier delays the ones arriving behind it, until its queue drains. */
  #externalityMs(load: TierLoad, computeMs: number): number {
    const inSystem = currentInSystem(load);
    if (inSystem < load.workers) return 0;
    return (computeMs * Math.min(inSystem, this.#variant.congestionCapPerWorker * load.workers)) / load.workers;
  }

  choose(request: SimRequest, now: number): Choice {
    const { topology } = this.#env;
    const heard = this.#heard[request.source];
    const mecReachable = heard !== undefined && this.#mecCircuits[request.source]!.closed;
    const cloudStatus = heard?.cloud.status;
    const cloudReachable = mecReachable && heard.cloud.reachable && cloudStatus !== undefined;
    const deviceMec = this.#deviceMec[request.source]!.estimate();
    const mecAge = heard ? now - heard.at : 0;
    const views: TierView[] = [
      { tier: 'device', reachable: true, path: [], load: { inSystem: this.#env.deviceInSystem(request.source), workers: topology.tiers.device.workers }, variants: this.#variants(request, 'device', undefined) },
      {
        tier: 'mec',
        reachable: mecReachable,
        ...(mecReachable ? {} : { unreachableBecause: 'no heartbeat' }),
        path: [deviceMec],
        load: this.#reported('mec', heard?.report, mecAge),
        variants: this.#variants(request, 'mec', heard?.compute),
      },
      {
        tier: 'cloud',
        reachable: cloudReachable,
        ...(cloudReachable ? {} : { unreachableBecause: 'no heartbeat' }),
        path: [deviceMec, heard?.cloud.link ?? deviceMec],
        load: this.#reported('cloud', cloudStatus?.report, mecAge + (heard?.cloud.statusAgeMs ?? 0)),
        variants: this.#variants(request, 'cloud', cloudStatus?.compute),
      },
    ];
    for (const view of views) this.#exactWait(request, view, now, 'device');
    // D5: the shared tiers' rates as their statuses report them (the cloud's relayed by the MEC node).
    const rates: Partial<Record<Tier, Rates>> = { ...(heard ? { mec: heard.report } : {}), ...(cloudStatus ? { cloud: cloudStatus.report } : {}) };
    const choice = this.#decide(request, views, 'device', DEADLINE_MS[request.task], undefined, heard?.blurMs ?? this.#learnedBlurMs(), rates);
    if ('reject' in choice || choice.tier === 'device') return choice;
    const pin = choice.tier === 'cloud' && !this.#variant.cloudUnpinned ? choice.tier : undefined;
    return { ...choice, viaMec: pin === undefined ? {} : { pin } };
  }

  decideAtMec(request: SimRequest, now: number, deadlineMs: number, pin: Tier | undefined): Choice {
    const { topology } = this.#env;
    const cloud = this.#cloudStatus;
    const cloudReachable = this.#cloudReachable();
    const workers = topology.tiers.mec.workers;
    let own: TierLoad = { inSystem: this.#env.inSystem('mec', request.source), workers };
    // P3 (dispatcher.ts #transformCostsNow, #cloudViews): blurring faces waits for a worker here like any request, and the upload waits for the ones queued ahead of it.
    const learnedBlurMs = this.#learnedBlurMs();
    let blurMs = this.#variant.blurWait ? learnedBlurMs + predictQueueMs(own, learnedBlurMs) : learnedBlurMs;
    const computeMs = this.#figures('mec')[topology.tiers.mec.models[request.task] ?? '']?.meanMs;
    if (this.#variant.ownWork && computeMs !== undefined) {
      // The requests ahead at their own mean compute, over the workers; handed to decide() as the count predict() turns into that wait.
      const ahead = own.inSystem + 1 - workers;
      const waitMs = ahead > 0 ? (ahead * this.#env.estimatedWorkMs('mec', request.source)) / own.inSystem / workers : 0;
      own = { inSystem: waitMs > 0 ? workers - 1 + (waitMs * workers) / computeMs : 0, workers };
      if (this.#variant.blurWait) blurMs = learnedBlurMs + waitMs;
    }
    const backlogMs = this.#variant.uplinkBacklog ? Math.max(0, this.#uplinkBusyUntil - now) : 0;
    const views: TierView[] = [
      { tier: 'mec', reachable: true, path: [], load: own, variants: this.#variants(request, 'mec', this.#figures('mec')) },
      {
        tier: 'cloud',
        reachable: cloudReachable,
        ...(cloudReachable ? {} : { unreachableBecause: 'no heartbeat' }),
        path: [this.#mecCloud.estimate()],
        ...(backlogMs > 0 ? { pathBacklogMs: backlogMs } : {}),
        load: this.#reported('cloud', cloud?.report, cloud ? now - cloud.at : 0),
        variants: this.#variants(request, 'cloud', cloud?.compute),
      },
    ];
    for (const view of views) this.#exactWait(request, view, now, 'mec');
    // D5: its own meters now, the cloud's rates as its status reported them.
    const rates: Partial<Record<Tier, Rates>> = { mec: this.#env.ownRates(), ...(cloud ? { cloud: cloud.report } : {}) };
    return this.#decide(request, views, 'mec', deadlineMs, pin, blurMs, rates);
  }

  /**
   * The 'exact-wait' what-if: a remote view's (and the MEC node's own) load becomes the count
   * predict() turns into the real wait of a request reaching that tier now, and the path's
   * backlog the real wait on the links' uplinks (the shared device-mec one from a device).
   */
  #exactWait(request: SimRequest, view: TierView, now: number, from: 'device' | 'mec'): void {
    const variant = view.variants[0];
    if (this.#variant.insight !== 'exact-wait' || !variant || view.path.length === 0) {
      if (this.#variant.insight === 'exact-wait' && variant) view.load = { inSystem: this.#countFor(view, variant, this.#env.waitMs(view.tier, request.source, now, variant.computeMs)), workers: view.load.workers };
      return;
    }
    const links: LinkName[] = from === 'device' ? PATH[view.tier].slice() : ['mec-cloud'];
    let backlogMs = 0;
    let t = now;
    links.forEach((name, index) => {
      const waitMs = this.#env.linkWaitMs(name, t, request.bytesUp);
      backlogMs += waitMs;
      t += waitMs + view.path[index]!.rttMs / 2 + request.bytesUp / view.path[index]!.bytesPerMs;
    });
    view.pathBacklogMs = backlogMs;
    view.load = { inSystem: this.#countFor(view, variant, this.#env.waitMs(view.tier, request.source, t, variant.computeMs)), workers: view.load.workers };
  }

  /** The count predict()'s queue formula turns into `waitMs` for this variant. */
  #countFor(view: TierView, variant: VariantView, waitMs: number): number {
    const workers = view.load.workers;
    return waitMs > 0 ? workers - 1 + (waitMs * workers) / variant.computeMs : 0;
  }
}

export function createPolicy(name: PolicyName, env: PolicyEnvironment): Policy {
  switch (name) {
    case 'always-device':
      return alwaysPolicy(name, 'device', env.topology);
    case 'always-mec':
      return alwaysPolicy(name, 'mec', env.topology);
    case 'always-cloud':
      return alwaysPolicy(name, 'cloud', env.topology);
    case 'static-split':
      return staticSplitPolicy(env);
    case 'ours':
      return new OursPolicy(env);
    case 'oracle':
      return oraclePolicy(env);
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

export interface Outcome {
  request: SimRequest;
  /** Where it ran (undefined: rejected). */
  tier?: Tier;
  rejected: boolean;
  /** Who refused it: the device's decide(), or the MEC node's (and the device had no model to fall back on, or no time). */
  rejectedAt?: 'device' | 'mec';
  /** Lost to a link outage. */
  lost: boolean;
  /** Arrival to answer; Infinity when rejected or lost (a rejection is not a fast success). */
  latencyMs: number;
  metDeadline: boolean;
  /** Placed where the egress rule forbids. */
  violation: boolean;
  /** Rejected by the device, yet some allowed tier would have answered within the deadline (hindsight). */
  rejectedInTime?: boolean;
  /** Where the time went (answered requests; zeros otherwise), in predict()'s terms. */
  actual: { networkMs: number; queueMs: number; computeMs: number; transformMs: number };
  /** Offloaded: how long its upload waited for others' on the shared device-mec link (part of networkMs). */
  uploadWaitMs?: number;
  /** Ours: the device's choice, and what the MEC node made of an offload ('refused': it refused it). */
  deviceTier?: Tier;
  mecTier?: Tier | 'refused';
  /** The last decider's prediction (the MEC node's for an offload it decided), and when it was made. */
  prediction?: Prediction;
  decidedAt?: number;
}

export interface RunResult {
  scenario: string;
  policy: string;
  outcomes: Outcome[];
  bytesUp: Record<LinkName, number>;
  /** decide() wall times (ns), for ours. */
  decideNs: number[];
}

const NOTHING: Outcome['actual'] = Object.freeze({ networkMs: 0, queueMs: 0, computeMs: 0, transformMs: 0 });

/** Who a heartbeat is from: the MEC node polling the cloud, or a device (by source) polling the MEC node. */
type Poller = 'mec' | number;

type SimEvent =
  | { kind: 'arrival'; request: SimRequest }
  | { kind: 'at-mec'; request: SimRequest; up: Crossing; sentAt: number; pin: Tier | undefined; deviceTier: Tier; prediction: Prediction | undefined }
  | { kind: 'enter'; instance: string; placed: 'mec' | 'cloud' | undefined; estimateMs: number }
  | { kind: 'leave'; instance: string; placed: 'mec' | 'cloud' | undefined; estimateMs: number; workMs: number; ran?: { tier: Tier; source: number; model: string }; blurMs?: number }
  | { kind: 'forwarded'; bytes: number }
  | { kind: 'answer'; request: SimRequest; plan: Plan }
  | { kind: 'tick'; from: Poller }
  | { kind: 'status'; from: Poller; rttMs: number; halfDownMs: number }
  | { kind: 'heard'; from: Poller; rttMs: number; report: LoadReport }
  | { kind: 'missed'; from: Poller; heartbeat: boolean };

export interface RunOptions {
  topology?: Topology;
  /** Seed of the heartbeats' phases and RTT jitter (the request stream carries its own draws). */
  seed?: number;
  /** Heartbeat period (default HEARTBEAT_MS); what-if runs change it. */
  heartbeatMs?: number;
}

/** Arrivals and completions of requests placed on a tier, as its dispatcher meters them for its status (dispatcher.ts #growth). */
export class GrowthMeter {
  readonly #arrivals: RateMeter;
  readonly #completions: RateMeter;
  readonly #work: RateMeter;

  constructor(clock: () => number) {
    this.#arrivals = new RateMeter(clock);
    this.#completions = new RateMeter(clock);
    this.#work = new RateMeter(clock);
  }

  arrived(): void {
    this.#arrivals.record();
  }

  /** Work entered the tier: a request's or a blur run's estimated compute (the D5 what-if's figure). */
  worked(estimateMs: number): void {
    this.#work.record(estimateMs);
  }

  completed(): void {
    this.#completions.record();
  }

  /** Per ms, rounded as the status rounds its per-second figures; growth only when beyond twice the noise of a difference of Poisson counts. */
  report(): Pick<LoadReport, 'arrivalsPerMs' | 'completionsPerMs' | 'growthPerMs' | 'workPerMs'> {
    const arrivals = this.#arrivals.perMs() * 1000;
    const completions = this.#completions.perMs() * 1000;
    const difference = arrivals - completions;
    const significant = Math.abs(difference) > 2 * Math.sqrt(arrivals + completions);
    const perMs = (perSecond: number): number => Math.round(perSecond * 100) / 100 / 1000;
    return { arrivalsPerMs: perMs(arrivals), completionsPerMs: perMs(completions), growthPerMs: significant ? perMs(difference) : 0, workPerMs: perMs(this.#work.perMs() * 1000) };
  }
}

/** Runs one policy (by name, or built by `policyOf` for what-if variants) over the stream. */
export function simulate(
  workload: Workload,
  scenario: Scenario,
  stream: RequestStream,
  policyOf: PolicyName | ((env: PolicyEnvironment) => Policy),
  options: RunOptions = {},
): RunResult {
  const topology = options.topology ?? TOPOLOGY;
  const world = new World(topology, scenario, stream.durationMs);
  const random = mulberry32(options.seed ?? 1);
  let now = 0;
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const growth = { mec: new GrowthMeter(() => now), cloud: new GrowthMeter(() => now) };
  const estimatedWork = new Map<string, number>();
  const env: PolicyEnvironment = {
    topology,
    workload,
    heartbeatMs,
    deviceInSystem: (source) => world.inSystem.get(World.instance('device', source)) ?? 0,
    plan: (request, tier) => world.plan(request, tier, now),
    inSystem: (tier, source) => world.inSystem.get(World.instance(tier, source)) ?? 0,
    estimatedWorkMs: (tier, source) => estimatedWork.get(World.instance(tier, source)) ?? 0,
    waitMs: (tier, source, at, serviceMs) => world.waitMs(tier, source, at, serviceMs),
    linkWaitMs: (link, at, bytes) => world.linkWaitMs(link, at, bytes),
    ownRates: () => growth.mec.report(),
  };
  const policy = typeof policyOf === 'string' ? createPolicy(policyOf, env) : policyOf(env);
  const events = new EventQueue<SimEvent>();
  const outcomes: Outcome[] = new Array<Outcome>(stream.requests.length);
  const position = new Map(stream.requests.map((request, index) => [request, index]));
  const bytesUp: Record<LinkName, number> = { 'device-mec': 0, 'mec-cloud': 0 };
  for (const request of stream.requests) events.push(request.at, { kind: 'arrival', request });
  const lastArrival = stream.requests.at(-1)?.at ?? 0;
  // Every monitor polls on a timer of its own: phases differ, as the nodes start at different times.
  events.push(random.next() * heartbeatMs, { kind: 'tick', from: 'mec' });
  for (let source = 0; source < topology.devices; source += 1) events.push(random.next() * heartbeatMs, { kind: 'tick', from: source });
  /** Monitors with a heartbeat out (peer-monitor.ts sends one at a time). */
  const polling = new Set<Poller>();

  const record = (request: SimRequest, outcome: Omit<Outcome, 'request'>): void => {
    outcomes[position.get(request)!] = { request, ...outcome };
  };

  const rejected = (request: SimRequest, at: 'device' | 'mec', extra: Partial<Outcome> = {}): void =>
    record(request, { rejected: true, rejectedAt: at, lost: false, latencyMs: Infinity, metDeadline: false, violation: false, actual: NOTHING, ...extra });

  /** Books the rest of a plan (its first `booked` crossings are booked already), schedules what follows, records the outcome. */
  const carryOut = (request: SimRequest, plan: Plan, booked: number, extra: Partial<Outcome>): void => {
    world.commit(request, plan, booked);
    for (const crossing of plan.crossings.slice(booked)) if (crossing.direction === 'up') bytesUp[crossing.link] += crossing.bytes;
    if (plan.blur) {
      const estimateMs = medianBlurMs(workload, topology, request.task);
      events.push(plan.blur.arriveAt, { kind: 'enter', instance: 'mec', placed: undefined, estimateMs });
      events.push(plan.blur.endAt, { kind: 'leave', instance: 'mec', placed: undefined, estimateMs, workMs: plan.blur.endAt - plan.blur.startAt, blurMs: plan.blur.endAt - plan.blur.arriveAt });
    }
    const upToCloud = plan.crossings.slice(booked).find((crossing) => crossing.link === 'mec-cloud' && crossing.direction === 'up');
    if (upToCloud) events.push(upToCloud.readyAt, { kind: 'forwarded', bytes: upToCloud.bytes });
    // A forward lost to the mec-cloud link fails when the MEC node gives up on it, and counts as a miss there.
    if (!plan.delivered && plan.tier === 'cloud') events.push(plan.finishAt, { kind: 'missed', from: 'mec', heartbeat: false });
    const service = plan.service;
    if (service) {
      const instance = World.instance(plan.tier, request.source);
      const placed = plan.tier === 'device' ? undefined : plan.tier;
      const workMs = service.endAt - service.startAt;
      const estimateMs = meanServiceMs(workload, topology, plan.tier, request.task)!;
      events.push(service.arriveAt, { kind: 'enter', instance, placed, estimateMs });
      events.push(service.endAt, { kind: 'leave', instance, placed, estimateMs, workMs, ran: { tier: plan.tier, source: request.source, model: topology.tiers[plan.tier].models[request.task]! } });
    }
    if (plan.delivered) events.push(plan.finishAt, { kind: 'answer', request, plan });
    const latencyMs = plan.delivered ? plan.finishAt - request.at : Infinity;
    const queueMs = service ? service.startAt - service.arriveAt : 0;
    const computeMs = service ? service.endAt - service.startAt : 0;
    const transformMs = plan.blur ? plan.blur.endAt - plan.blur.arriveAt : 0;
    const upload = plan.crossings[0]?.link === 'device-mec' && plan.crossings[0].direction === 'up' ? plan.crossings[0] : undefined;
    record(request, {
      ...(upload ? { uploadWaitMs: upload.sendStart - upload.readyAt } : {}),
      tier: plan.tier,
      rejected: false,
      lost: !plan.delivered,
      latencyMs,
      metDeadline: latencyMs <= DEADLINE_MS[request.task],
      violation: !egress(request.dataClass, plan.tier).allowed,
      actual: plan.delivered ? { networkMs: latencyMs - transformMs - queueMs - computeMs, queueMs, computeMs, transformMs } : NOTHING,
      ...extra,
    });
  };

  const place = (request: SimRequest): void => {
    const choice = policy.choose(request, now);
    if ('reject' in choice) {
      const inTime = TIERS.some((tier) => {
        if (!holds(topology, tier, request.task) || !egress(request.dataClass, tier).allowed) return false;
        const plan = world.plan(request, tier, now);
        return plan.delivered && plan.finishAt - request.at <= DEADLINE_MS[request.task];
      });
      rejected(request, 'device', { rejectedInTime: inTime });
      return;
    }
    const decided = { deviceTier: choice.tier, decidedAt: now, ...(choice.prediction ? { prediction: choice.prediction } : {}) };
    const up = choice.viaMec ? world.cross(request, 'device-mec', 'up', request.bytesUp, now) : undefined;
    if (!choice.viaMec || !up) {
      carryOut(request, world.plan(request, choice.tier, now), 0, decided);
      return;
    }
    world.book(up);
    bytesUp['device-mec'] += up.bytes;
    events.push(up.arriveAt, { kind: 'at-mec', request, up, sentAt: now, pin: choice.viaMec.pin, deviceTier: choice.tier, prediction: choice.prediction });
  };

  /** An offload reaches the MEC node, which decides (or checks the pin) with the deadline the device sent. */
  const atMec = (event: Extract<SimEvent, { kind: 'at-mec' }>): void => {
    const { request, up } = event;
    const deadline = request.at + DEADLINE_MS[request.task];
    const sentDeadlineMs = Math.max(1, Math.floor(deadline - event.sentAt));
    const choice = policy.decideAtMec!(request, now, sentDeadlineMs, event.pin);
    if ('reject' in choice) {
      // The refusal goes back; the device runs the request itself if it holds a model and has time left.
      const refusal = world.cross(request, 'device-mec', 'down', REFUSAL_BYTES, now);
      if (refusal) world.book(refusal);
      if (refusal && holds(topology, 'device', request.task) && refusal.arriveAt < deadline) {
        const plan: Plan = { ...world.plan(request, 'device', refusal.arriveAt, 'device', [up, refusal]), fallback: true };
        carryOut(request, plan, 2, { deviceTier: event.deviceTier, mecTier: 'refused' });
      } else {
        rejected(request, 'mec', { deviceTier: event.deviceTier, mecTier: 'refused' });
      }
      return;
    }
    carryOut(request, world.plan(request, choice.tier, now, 'mec', [up]), 1, {
      deviceTier: event.deviceTier,
      mecTier: choice.tier,
      decidedAt: now,
      ...(choice.prediction ? { prediction: choice.prediction } : {}),
    });
  };

  /** A heartbeat timer fires: unless one is still out, the poller asks; the far end reports its load on arrival, or the poll times out. */
  const tick = (from: Poller): void => {
    if (!polling.has(from)) {
      polling.add(from);
      const link: LinkName = from === 'mec' ? 'mec-cloud' : 'device-mec';
      const state = world.linkAt(link, now);
      const half = (): number => (state.rttMs / 2) * (1 + RTT_JITTER * random.between(-1, 1));
      const [halfUp, halfDown] = [half(), half()];
      if (state.up) events.push(now + halfUp, { kind: 'status', from, rttMs: halfUp + halfDown, halfDownMs: halfDown });
      else events.push(now + HEARTBEAT_TIMEOUT_MS, { kind: 'missed', from, heartbeat: true });
    }
    if (from === 'mec') world.forget(now);
    if (now + heartbeatMs <= lastArrival) events.push(now + heartbeatMs, { kind: 'tick', from });
  };

  const status = (from: Poller, rttMs: number, halfDownMs: number): void => {
    const tier = from === 'mec' ? 'cloud' : 'mec';
    const report: LoadReport = { at: now, inSystem: world.inSystem.get(tier) ?? 0, ...growth[tier].report() };
    events.push(now + halfDownMs, { kind: 'heard', from, rttMs, report });
  };

  for (let next = events.pop(); next; next = events.pop()) {
    now = next.time;
    const event = next.item;
    switch (event.kind) {
      case 'arrival':
        place(event.request);
        break;
      case 'at-mec':
        atMec(event);
        break;
      case 'enter':
        world.inSystem.set(event.instance, (world.inSystem.get(event.instance) ?? 0) + 1);
        estimatedWork.set(event.instance, (estimatedWork.get(event.instance) ?? 0) + event.estimateMs);
        if (event.placed) growth[event.placed].arrived();
        if (event.instance === 'mec' || event.instance === 'cloud') growth[event.instance].worked(event.estimateMs);
        break;
      case 'leave':
        world.inSystem.set(event.instance, (world.inSystem.get(event.instance) ?? 0) - 1);
        estimatedWork.set(event.instance, (estimatedWork.get(event.instance) ?? 0) - event.estimateMs);
        if (event.placed) growth[event.placed].completed();
        if (event.ran) policy.served?.(event.ran.tier, event.ran.source, event.ran.model, event.workMs);
        if (event.blurMs !== undefined) policy.blurred?.(event.blurMs, event.workMs);
        break;
      case 'forwarded':
        policy.forwarded?.(event.bytes, now);
        break;
      case 'answer':
        policy.answered?.({ request: event.request, plan: event.plan });
        break;
      case 'tick':
        tick(event.from);
        break;
      case 'status':
        status(event.from, event.rttMs, event.halfDownMs);
        break;
      case 'heard':
        polling.delete(event.from);
        policy.heartbeat?.(event.from, event.report, event.rttMs, now);
        break;
      case 'missed':
        if (event.heartbeat) polling.delete(event.from);
        policy.missed?.(event.from, now);
        break;
    }
  }
  return { scenario: scenario.name, policy: policy.name, outcomes, bytesUp, decideNs: policy instanceof OursPolicy ? policy.decideNs : [] };
}

// ---------------------------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------------------------

/** The p-th percentile (nearest rank) of latencies that may hold Infinity. */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export interface RunSummary {
  requests: number;
  p50: number;
  p95: number;
  deadlineMet: number;
  violations: number;
  rejected: number;
  lost: number;
  upstreamBytes: number;
  /** Requests per tier. */
  placed: Record<Tier, number>;
}

export function summarizeRun(run: RunResult): RunSummary {
  const latencies = run.outcomes.map((outcome) => outcome.latencyMs);
  const placed: Record<Tier, number> = { device: 0, mec: 0, cloud: 0 };
  for (const outcome of run.outcomes) if (outcome.tier) placed[outcome.tier] += 1;
  return {
    requests: run.outcomes.length,
    p50: percentileOf(latencies, 50),
    p95: percentileOf(latencies, 95),
    deadlineMet: run.outcomes.filter((outcome) => outcome.metDeadline).length / Math.max(1, run.outcomes.length),
    violations: run.outcomes.filter((outcome) => outcome.violation).length,
    rejected: run.outcomes.filter((outcome) => outcome.rejected).length,
    lost: run.outcomes.filter((outcome) => outcome.lost).length,
    upstreamBytes: run.bytesUp['device-mec'] + run.bytesUp['mec-cloud'],
    placed,
  };
}
