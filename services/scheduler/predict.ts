/**
 * The cost model: the latency a request would see on one tier, as the sum of what it waits for.
 *   network  = per link on the path: RTT + request bytes / bandwidth + answer bytes / bandwidth
 *   queue    = the tier's requests ahead of this one x its service time / its workers
 *   compute  = the learned run time of the model variant on that tier
 *   transform= work the sending side does before data may leave (blurring faces)
 * Pure arithmetic over the views the caller hands in.
 */
import type { LinkEstimate } from './estimators.ts';
import type { Tier } from './types.ts';

/** A model variant a tier serves for the request's task. */
export interface VariantView {
  /** The model's name in the tier's repository (e.g. nanodet, centernet). */
  model: string;
  /** Size class, for the answer: small (edge) or large (cloud). */
  variant: string;
  /** Quality on the task's benchmark, 0..1 (COCO mAP for detection, 1 - WER for speech ...). */
  accuracy: number;
  computeMs: number;
  computeStdMs: number;
}

/** One tier as the deciding tier sees it right now. */
export interface TierView {
  tier: Tier;
  /** False when its link is down or its heartbeat is stale; `unreachableBecause` says which. */
  reachable: boolean;
  unreachableBecause?: string;
  /** The links from the deciding tier to this tier, in order; empty for the deciding tier itself. */
  path: LinkEstimate[];
  /** Time the deciding tier's own uploads already queued on that path will take, ms (a link is a FIFO). */
  pathBacklogMs?: number;
  /** Requests in the tier's system (waiting and running) and how many it runs at once. */
  load: TierLoad;
  /** The variants of the request's task this tier serves (none: it cannot serve the task). */
  variants: VariantView[];
  /**
   * It refuses new work as overloaded right now (its gate is shedding, or it just answered 503
   * QUEUE_FULL): placed there only when no other tier can take the request.
   */
  refusing?: { because: string };
}

/**
 * A tier's load as last reported. A remote tier's figure is a heartbeat old: under a burst its
 * queue has grown since, by its net arrival rate times the report's age, and the prediction
 * extrapolates that instead of trusting a stale count (which sends every device to the same
 * tier at once).
 */
export interface TierLoad {
  inSystem: number;
  workers: number;
  /** How old the figure is, ms (0 or absent: exact, e.g. the deciding tier's own). */
  ageMs?: number;
  /** Arrivals minus completions per ms, as the tier last measured them. */
  growthPerMs?: number;
  /** Estimated compute (ms) of the work placed on the tier per ms, over the last second; unknown: absent. */
  workPerMs?: number;
}

/** How busy the tier is: work arriving per ms over its workers (1 = saturated); undefined when not reported. */
export function utilisation(load: TierLoad): number | undefined {
  return load.workPerMs === undefined ? undefined : load.workPerMs / Math.max(1, load.workers);
}

/** The requests in the tier now, extrapolated from its last report. */
export function currentInSystem(load: TierLoad): number {
  const grown = load.inSystem + (load.growthPerMs ?? 0) * (load.ageMs ?? 0);
  return Math.max(0, grown);
}

export interface Prediction {
  networkMs: number;
  queueMs: number;
  computeMs: number;
  transformMs: number;
  totalMs: number;
  /** totalMs plus one standard deviation of compute and of the path's jitter guess: what a deadline is checked against. */
  pessimisticMs: number;
}

export function predictNetworkMs(path: readonly LinkEstimate[], bytesUp: number, bytesDown: number): number {
  let ms = 0;
  for (const link of path) ms += link.rttMs + (bytesUp + bytesDown) / link.bytesPerMs;
  return ms;
}

/** Expected wait behind the requests already in the tier: none while a worker is free. */
export function predictQueueMs(load: TierLoad, serviceMs: number): number {
  const workers = Math.max(1, load.workers);
  const ahead = currentInSystem(load) + 1 - workers;
  return ahead > 0 ? (ahead * serviceMs) / workers : 0;
}

export function predict(view: TierView, variant: VariantView, bytesUp: number, bytesDown: number, transformMs: number): Prediction {
  const networkMs = predictNetworkMs(view.path, bytesUp, bytesDown) + (view.pathBacklogMs ?? 0);
  const queueMs = predictQueueMs(view.load, variant.computeMs);
  const totalMs = networkMs + queueMs + variant.computeMs + transformMs;
  // Links vary too: a tenth of the path's RTT stands for their jitter.
  const pathRtt = view.path.reduce((sum, link) => sum + link.rttMs, 0);
  return {
    networkMs,
    queueMs,
    computeMs: variant.computeMs,
    transformMs,
    totalMs,
    pessimisticMs: totalMs + variant.computeStdMs + 0.1 * pathRtt,
  };
}
