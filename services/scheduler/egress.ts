/**
 * THE egress rule: may data of a class go to a tier, and what must be done to it first. Deny by
 * default: anything this function does not positively allow is refused, and nothing else in the
 * platform decides it. Pure, so the device SDK and the nodes apply the very same rule.
 */
import type { PlacementPolicy } from './policy.ts';
import { TRANSFORMS, isDataClass, isTier, type DataClass, type Tier, type Transform } from './types.ts';

export type EgressDecision = { allowed: true; transforms: Transform[] } | { allowed: false; reason: string };

/** Metadata (EXIF, GPS, device ids) never leaves the device, whatever the policy says. */
const LEAVING_DEVICE: readonly Transform[] = ['strip-metadata'];

export function egressRule(policy: PlacementPolicy, dataClass: DataClass, to: Tier): EgressDecision {
  if (!isDataClass(dataClass)) return { allowed: false, reason: `unknown data class ${JSON.stringify(dataClass)}` };
  if (!isTier(to)) return { allowed: false, reason: `unknown tier ${JSON.stringify(to)}` };
  // Defence in depth: the loader refuses such a policy, but a policy object can come from elsewhere.
  if (dataClass === 'restricted' && to === 'cloud') return { allowed: false, reason: 'restricted data never leaves the MEC node' };
  const rules = policy.spec.dataClasses;
  const rule = Object.hasOwn(rules, dataClass) ? rules[dataClass] : undefined;
  if (rule === undefined || !Array.isArray(rule.tiers) || !rule.tiers.includes(to)) {
    return { allowed: false, reason: `policy does not let ${dataClass} data reach ${to}` };
  }
  const byTier: unknown = rule.transforms;
  const required: unknown = typeof byTier === 'object' && byTier !== null && Object.hasOwn(byTier, to) ? (byTier as Record<string, unknown>)[to] : [];
  // A malformed rule or a transform this platform cannot apply: the data cannot be made eligible.
  if (!Array.isArray(required)) return { allowed: false, reason: `policy transforms for ${to} are not a list` };
  const unknown: unknown = required.find((transform) => !(TRANSFORMS as readonly unknown[]).includes(transform));
  if (unknown !== undefined) return { allowed: false, reason: `policy requires unknown transform ${JSON.stringify(unknown)} before ${to}` };
  const transforms: Transform[] = to === 'device' ? [] : [...LEAVING_DEVICE];
  for (const transform of required as Transform[]) if (!transforms.includes(transform)) transforms.push(transform);
  return { allowed: true, transforms };
}
