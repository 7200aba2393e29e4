/**
 * The placement decision: per request, the tier (and model variant) with the lowest predicted
 * latency among those that policy allows, that can be reached, that meet the accuracy need and
 * are predicted to meet the deadline. Every other tier is listed with its prediction and why it
 * lost, so each decision explains itself. When no tier qualifies the answer is an explicit,
 * immediate rejection (with the same list), not a request left to time out.
 */
import { predict, utilisation, type Prediction, type TierView, type VariantView } from './predict.ts';
import type { DataClass, PlacementTask, Tier, Transform } from './types.ts';

export type EgressAnswer = { allowed: true; transforms: Transform[] } | { allowed: false; reason: string };

export interface PlacementRequest {
  task: PlacementTask;
  dataClass: DataClass;
  /** Bytes that go up if the request leaves this tier, and the answer's expected size. */
  bytesUp: number;
  bytesDown: number;
  /** Time left for the whole request, in ms. */
  deadlineMs: number;
  /** Lowest variant accuracy acceptable (0..1); none: any. */
  minAccuracy?: number;
  /** Run on this tier (a caller's explicit choice), if policy allows and it can be reached. */
  pin?: Tier;
}

/** What the decision reads besides the request and the tiers. */
export interface PlacementContext {
  /** The deny-by-default egress rule: may this class reach that tier, and after which transforms. */
  egress(dataClass: DataClass, to: Tier): EgressAnswer;
  /** The tier deciding (data that stays here crosses no link and needs no transform). */
  self: Tier;
  /** Estimated ms of each transform, done by the deciding tier before sending. */
  transformMs: Partial<Record<Transform, number>>;
  policyVersion: string;
  /**
   * The cost of congestion: a request placed on a busy tier delays those that come after it, which
   * its own predicted latency does not count. Candidates are ranked by predicted latency + alpha x
   * compute x rho/(1-rho) (capped at factorCap) when the tier's utilisation rho is at least
   * threshold; 0 below, so a lightly loaded tier is never charged. Deadlines are checked, and
   * predictions reported, without it. Absent or alpha 0: off.
   */
  congestion?: CongestionCost;
}

export interface CongestionCost {
  alpha: number;
  threshold: number;
  factorCap: number;
}

/** The congestion term of one candidate (see PlacementContext.congestion). */
export function congestionMs(view: TierView, variant: VariantView, cost: CongestionCost | undefined): number {
  if (!cost || cost.alpha <= 0) return 0;
  const rho = utilisation(view.load);
  if (rho === undefined || rho < cost.threshold) return 0;
  const factor = rho >= 1 ? cost.factorCap : Math.min(rho / (1 - rho), cost.factorCap);
  return cost.alpha * variant.computeMs * factor;
}

/** best-effort: no tier was predicted to meet the (policy's, soft) deadline; the fastest serves. */
export type PlacementReason = 'lowest-latency' | 'spill-over' | 'only-eligible' | 'pinned' | 'best-effort';

export interface Alternative {
  tier: Tier;
  model?: string;
  predicted_ms?: number;
  rejected_because: string;
}

export interface Placement {
  feasible: true;
  tier: Tier;
  model: string;
  variant: string;
  reason: PlacementReason;
  predicted_ms: number;
  prediction: Prediction;
  /** Done before the data leaves this tier for the chosen one. */
  transforms: Transform[];
  alternatives: Alternative[];
  policy_version: string;
}

export interface Rejection {
  feasible: false;
  /** 'privacy' when the pinned tier is forbidden; otherwise 'infeasible'. */
  why: 'privacy' | 'infeasible';
  message: string;
  alternatives: Alternative[];
  policy_version: string;
}

interface Scored {
  view: TierView;
  variant: VariantView;
  prediction: Prediction;
  /** The ranking figure: predicted latency + the congestion term. */
  costMs: number;
  transforms: Transform[];
  /** What it would take with empty queues everywhere: tells a spill-over from a plain choice. */
  unloadedMs: number;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** The fastest variant of a tier that meets the accuracy need (ties: the more accurate). */
function pickVariant(view: TierView, minAccuracy: number): VariantView | undefined {
  let best: VariantView | undefined;
  for (const variant of view.variants) {
    if (variant.accuracy < minAccuracy) continue;
    if (!best || variant.computeMs < best.computeMs || (variant.computeMs === best.computeMs && variant.accuracy > best.accuracy)) best = variant;
  }
  return best;
}

export function decide(request: PlacementRequest, views: readonly TierView[], context: PlacementContext): Placement | Rejection {
  const minAccuracy = request.minAccuracy ?? 0;
  const eligible: Scored[] = [];
  const alternatives: Alternative[] = [];

  for (const view of views) {
    const egress: EgressAnswer = view.tier === context.self ? { allowed: true, transforms: [] } : context.egress(request.dataClass, view.tier);
    if (!egress.allowed) {
      alternatives.push({ tier: view.tier, rejected_because: `privacy: ${egress.reason}` });
      continue;
    }
    if (!view.reachable) {
      alternatives.push({ tier: view.tier, rejected_because: `unreachable: ${view.unreachableBecause ?? 'no heartbeat'}` });
      continue;
    }
    if (view.variants.length === 0) {
      alternatives.push({ tier: view.tier, rejected_because: `no model for ${request.task}` });
      continue;
    }
    const variant = pickVariant(view, minAccuracy);
    if (!variant) {
      alternatives.push({ tier: view.tier, rejected_because: `accuracy: no variant reaches ${minAccuracy}` });
      continue;
    }
    const up = view.tier === context.self ? 0 : request.bytesUp;
    const down = view.tier === context.self ? 0 : request.bytesDown;
    const transformMs = egress.transforms.reduce((sum, transform) => sum + (context.transformMs[transform] ?? 0), 0);
    const prediction = predict(view, variant, up, down, transformMs);
    const unloaded = predict({ ...view, load: { inSystem: 0, workers: view.load.workers } }, variant, up, down, transformMs);
    const costMs = prediction.totalMs + congestionMs(view, variant, context.congestion);
    eligible.push({ view, variant, prediction, costMs, transforms: egress.transforms, unloadedMs: unloaded.totalMs });
  }

  if (request.pin !== undefined) {
    const pinned = eligible.find((scored) => scored.view.tier === request.pin);
    const refused = alternatives.find((alternative) => alternative.tier === request.pin);
    if (!pinned) {
      // A tier this node does not even know of may still be one the data may never reach: say so.
      const egress = refused === undefined && request.pin !== context.self ? context.egress(request.dataClass, request.pin) : undefined;
      if (egress && !egress.allowed) alternatives.push({ tier: request.pin, rejected_because: `privacy: ${egress.reason}` });
      const privacy = (refused?.rejected_because.startsWith('privacy') ?? false) || (egress !== undefined && !egress.allowed);
      return {
        feasible: false,
        why: privacy ? 'privacy' : 'infeasible',
        message: `the requested tier ${request.pin} cannot take this request: ${refused?.rejected_because ?? (privacy ? `${request.dataClass} data may not reach it` : 'this tier does not know how to reach it')}`,
        alternatives,
        policy_version: context.policyVersion,
      };
    }
    for (const other of eligible) {
      if (other !== pinned) alternatives.push({ tier: other.view.tier, model: other.variant.model, predicted_ms: round(other.prediction.totalMs), rejected_because: `not pinned (x-placement-tier: ${request.pin})` });
    }
    return placement(pinned, 'pinned', alternatives, context);
  }

  // A tier that refuses new work as overloaded is a last resort: it answers 503 at once, another
  // tier that can take the request answers it. With nowhere else to go, it is still tried (it may
  // have room again by then, and its refusal is fast and explained).
  if (eligible.some((scored) => scored.view.refusing === undefined)) {
    for (let index = eligible.length - 1; index >= 0; index -= 1) {
      const scored = eligible[index]!;
      if (scored.view.refusing === undefined) continue;
      alternatives.push({ tier: scored.view.tier, model: scored.variant.model, predicted_ms: round(scored.prediction.totalMs), rejected_because: `overloaded: ${scored.view.refusing.because}` });
      eligible.splice(index, 1);
    }
  }

  const { inTime, judgedOnMean } = withinDeadline(eligible, (scored) => scored.prediction, request.deadlineMs);
  for (const scored of eligible) {
    if (!inTime.includes(scored)) {
      const predicted = judgedOnMean ? scored.prediction.totalMs : scored.prediction.pessimisticMs;
      alternatives.push({
        tier: scored.view.tier,
        model: scored.variant.model,
        predicted_ms: round(scored.prediction.totalMs),
        rejected_because: `deadline: predicted ${round(predicted)} ms${judgedOnMean ? '' : ' when slow'} (queue ${round(scored.prediction.queueMs)} ms) > ${round(request.deadlineMs)} ms left`,
      });
    }
  }
  if (inTime.length === 0) {
    return {
      feasible: false,
      why: 'infeasible',
      message:
        eligible.length === 0
          ? `no tier may serve this ${request.dataClass} ${request.task} request: ${alternatives.map((a) => `${a.tier} (${a.rejected_because})`).join('; ')}`
          : `no tier is predicted to answer within ${round(request.deadlineMs)} ms`,
      alternatives,
      policy_version: context.policyVersion,
    };
  }

  inTime.sort((a, b) => a.costMs - b.costMs || b.variant.accuracy - a.variant.accuracy);
  const [chosen, ...slower] = inTime as [Scored, ...Scored[]];
  for (const other of slower) {
    const congestion = other.costMs - other.prediction.totalMs;
    alternatives.push({
      tier: other.view.tier,
      model: other.variant.model,
      predicted_ms: round(other.prediction.totalMs),
      rejected_because: congestion > 0 ? `slower: predicted ${round(other.prediction.totalMs)} ms + congestion ${round(congestion)} ms` : `slower: predicted ${round(other.prediction.totalMs)} ms`,
    });
  }
  // Spill-over: a tier that would have won with empty queues lost because of its queue.
  const fastestUnloaded = eligible.reduce((best, scored) => (scored.unloadedMs < best.unloadedMs ? scored : best), chosen);
  const reason: PlacementReason = eligible.length === 1 ? 'only-eligible' : fastestUnloaded !== chosen ? 'spill-over' : 'lowest-latency';
  return placement(chosen, reason, alternatives, context);
}

/**
 * The candidates that may take a request with this deadline. Those that meet it even when the run
 * is slow (about one in six is slower) come first. When there is none, one whose expected latency
 * meets it still may: it makes the deadline more often than not, and refusing it would turn a
 * likely success into a certain failure. Only what is expected to be late is refused.
 */
export function withinDeadline<T>(candidates: readonly T[], predictionOf: (candidate: T) => Prediction, deadlineMs: number): { inTime: T[]; judgedOnMean: boolean } {
  const safe = candidates.filter((candidate) => predictionOf(candidate).pessimisticMs <= deadlineMs);
  if (safe.length > 0) return { inTime: safe, judgedOnMean: false };
  return { inTime: candidates.filter((candidate) => predictionOf(candidate).totalMs <= deadlineMs), judgedOnMean: true };
}

function placement(chosen: Scored, reason: PlacementReason, alternatives: Alternative[], context: PlacementContext): Placement {
  const order = (tier: Tier) => ['device', 'mec', 'cloud'].indexOf(tier);
  alternatives.sort((a, b) => order(a.tier) - order(b.tier));
  return {
    feasible: true,
    tier: chosen.view.tier,
    model: chosen.variant.model,
    variant: chosen.variant.variant,
    reason,
    predicted_ms: round(chosen.prediction.totalMs),
    prediction: chosen.prediction,
    transforms: chosen.transforms,
    alternatives,
    policy_version: context.policyVersion,
  };
}
