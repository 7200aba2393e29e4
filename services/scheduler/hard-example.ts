/**
 * Joint inference, KubeEdge Sedna style: a small model answers near the user, and 'hard examples'
 * (answers the small model is unsure of) are escalated to a larger model farther away when
 * policy and the deadline allow. This file holds the filters and the escalation plan; the
 * dispatcher runs it and keeps the near answer when the far one fails or comes late.
 */
import { decide, type PlacementContext, type PlacementRequest } from './decide.ts';
import type { TierView } from './predict.ts';
import type { Tier } from './types.ts';

export interface HardExampleRule {
  enabled: boolean;
  /**
   * threshold: hard when the answer's confidence is below `threshold`.
   * entropy: hard when the binary entropy of the confidence (0..1 bits) is above `threshold`:
   * answers near 0.5 are unsure either way, which suits yes/no tasks such as inspection.
   */
  filter: 'threshold' | 'entropy';
  threshold: number;
}

function binaryEntropy(p: number): number {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return -(q * Math.log2(q) + (1 - q) * Math.log2(1 - q));
}

export function isHardExample(rule: HardExampleRule, confidence: number): boolean {
  if (!rule.enabled || !Number.isFinite(confidence)) return false;
  return rule.filter === 'threshold' ? confidence < rule.threshold : binaryEntropy(confidence) > rule.threshold;
}

export type EscalationPlan =
  | { escalate: true; tier: Tier; model: string; variant: string; predictedMs: number; timeoutMs: number }
  | { escalate: false; because: string };

/**
 * Whether a hard example may go to a more accurate variant on a farther tier: the egress rule must
 * allow it, the tier must be reachable and predicted to answer within the time left. The near
 * answer's accuracy is the floor: escalating to a variant no better is pointless.
 */
export function planEscalation(
  request: PlacementRequest,
  nearAccuracy: number,
  farther: readonly TierView[],
  context: PlacementContext,
): EscalationPlan {
  if (farther.length === 0) return { escalate: false, because: 'no farther tier' };
  const better = farther.map((view) => ({ ...view, variants: view.variants.filter((variant) => variant.accuracy > nearAccuracy) }));
  const decision = decide({ ...request, pin: undefined }, better, context);
  if (!decision.feasible) {
    return { escalate: false, because: decision.alternatives.map((a) => `${a.tier}: ${a.rejected_because}`).join('; ') || decision.message };
  }
  return {
    escalate: true,
    tier: decision.tier,
    model: decision.model,
    variant: decision.variant,
    predictedMs: decision.predicted_ms,
    timeoutMs: request.deadlineMs,
  };
}
