/**
 * What tiers tell each other on the heartbeat (GET /v1/tier/status): their load, the model
 * variants they serve with their learned compute times, and - from a MEC node - its own view of
 * the cloud, so that a device can weigh all three tiers with one request.
 */
import type { VariantView } from '../scheduler/predict.ts';
import type { PlacementTask, Tier, Transform } from '../scheduler/types.ts';

export interface ServedVariant {
  model: string;
  variant: string;
  accuracy: number;
  compute_ms: number;
  compute_std_ms: number;
}

export interface TierStatus {
  tier: Tier;
  policy_version: string;
  /** Requests waiting or running in the node's task gate, and how many it runs at once. */
  load: {
    in_system: number;
    workers: number;
    /** Requests placed there and finished there per second, over the last second. */
    arrivals_per_s?: number;
    completions_per_s?: number;
    /** Arrivals minus completions per second when more than noise (else 0): how fast its queue grows. */
    growth_per_s?: number;
    /** Estimated compute (ms) of the work placed there per second; over workers, its utilisation. */
    work_ms_per_s?: number;
    /** Its task gate refuses new work right now (a standing queue past its delay target). */
    refusing?: boolean;
    /** Requests its task gate lets into the pipeline at once (tasks.concurrency, or what it learnt). */
    places?: number;
  };
  serves: Partial<Record<PlacementTask, ServedVariant[]>>;
  /** Learned cost of each privacy transform on this node, ms. */
  transform_ms: Partial<Record<Transform, number>>;
  /** A MEC node's view of its cloud. */
  cloud?: PeerView;
}

export interface PeerView {
  reachable: boolean;
  unreachable_because?: string;
  rtt_ms: number;
  bytes_per_ms: number;
  /** How old `status` was when this view was taken, ms. */
  status_age_ms?: number;
  /** It refused work as overloaded (503 QUEUE_FULL or 429): for about this much longer it is not sent more, ms. */
  refusing_for_ms?: number;
  status?: TierStatus;
}

/** A served variant as the placement engine reads it. */
export function toVariantView(served: ServedVariant): VariantView {
  return { model: served.model, variant: served.variant, accuracy: served.accuracy, computeMs: served.compute_ms, computeStdMs: served.compute_std_ms };
}
