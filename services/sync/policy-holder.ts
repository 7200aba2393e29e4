/**
 * The placement policy in force, swappable while the node runs: the dispatcher reads current() on
 * every request (node.ts hands it `() => holder.current()`), the sync agent swaps in a newer version.
 * A swap is one assignment, so a request sees either the old or the new policy, never a mix.
 */
import type { PlacementPolicy } from '../scheduler/policy.ts';

export interface HeldPolicy {
  policy: PlacementPolicy;
  /** sha256 of the YAML text it was parsed from (a sync conflict is the same version with another). */
  sha256: string;
  /** The file it came from: the configured one, or the sync cache. */
  source: string;
}

export class PolicyHolder {
  #held: HeldPolicy;

  constructor(initial: HeldPolicy) {
    this.#held = initial;
  }

  current(): PlacementPolicy {
    return this.#held.policy;
  }

  held(): HeldPolicy {
    return this.#held;
  }

  swap(next: HeldPolicy): void {
    this.#held = next;
  }
}
