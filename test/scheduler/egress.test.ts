/**
 * The one egress rule, exhaustively: every data class to every tier under the shipped policies,
 * the hard restricted -> cloud denial even when a policy object allows it, and deny by default
 * for anything unknown or malformed.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { egressRule, type EgressDecision } from '../../services/scheduler/egress.ts';
import { loadPolicyFile } from '../../services/scheduler/policy-file.ts';
import type { DataClassRule, PlacementPolicy } from '../../services/scheduler/policy.ts';
import { DATA_CLASSES, TIERS, type DataClass, type Tier } from '../../services/scheduler/types.ts';

const defaultPolicy = await loadPolicyFile(path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml'));
const strictPolicy = await loadPolicyFile(path.join(PROJECT_ROOT, 'blueprints', 'policies', 'strict.yaml'));

/** A policy object built by hand, bypassing the loader (as a buggy caller or a tampered cache could). */
function handBuilt(dataClasses: Record<string, unknown>): PlacementPolicy {
  return { ...defaultPolicy, spec: { ...defaultPolicy.spec, dataClasses: dataClasses as Record<DataClass, DataClassRule> } };
}

function table(policy: PlacementPolicy): Record<string, EgressDecision> {
  const decisions: Record<string, EgressDecision> = {};
  for (const dataClass of DATA_CLASSES) for (const tier of TIERS) decisions[`${dataClass}->${tier}`] = egressRule(policy, dataClass, tier);
  return decisions;
}

describe('egressRule under the shipped policies', () => {
  it('default policy: every class to every tier', () => {
    expect(table(defaultPolicy)).toEqual({
      'public->device': { allowed: true, transforms: [] },
      'public->mec': { allowed: true, transforms: ['strip-metadata'] },
      'public->cloud': { allowed: true, transforms: ['strip-metadata'] },
      'internal->device': { allowed: true, transforms: [] },
      'internal->mec': { allowed: true, transforms: ['strip-metadata'] },
      'internal->cloud': { allowed: true, transforms: ['strip-metadata', 'blur-faces'] },
      'restricted->device': { allowed: true, transforms: [] },
      'restricted->mec': { allowed: true, transforms: ['strip-metadata'] },
      'restricted->cloud': { allowed: false, reason: 'restricted data never leaves the MEC node' },
    });
  });

  it('strict policy: only public data reaches the cloud', () => {
    expect(table(strictPolicy)).toEqual({
      'public->device': { allowed: true, transforms: [] },
      'public->mec': { allowed: true, transforms: ['strip-metadata'] },
      'public->cloud': { allowed: true, transforms: ['strip-metadata'] },
      'internal->device': { allowed: true, transforms: [] },
      'internal->mec': { allowed: true, transforms: ['strip-metadata'] },
      'internal->cloud': { allowed: false, reason: 'policy does not let internal data reach cloud' },
      'restricted->device': { allowed: true, transforms: [] },
      'restricted->mec': { allowed: true, transforms: ['strip-metadata'] },
      'restricted->cloud': { allowed: false, reason: 'restricted data never leaves the MEC node' },
    });
  });

  it('each answer is a fresh array: a caller that edits it changes no later answer', () => {
    const first = egressRule(defaultPolicy, 'internal', 'cloud');
    if (!first.allowed) throw new Error('expected allowed');
    first.transforms.length = 0;
    expect(egressRule(defaultPolicy, 'internal', 'cloud')).toEqual({ allowed: true, transforms: ['strip-metadata', 'blur-faces'] });
  });
});

describe('egressRule: deny by default', () => {
  it('BAD CALL - a policy object letting restricted data reach the cloud -> still denied', () => {
    const leaky = handBuilt({
      ...defaultPolicy.spec.dataClasses,
      restricted: { tiers: ['device', 'mec', 'cloud'], transforms: { cloud: ['blur-faces'] } },
    });
    expect(egressRule(leaky, 'restricted', 'cloud')).toEqual({ allowed: false, reason: 'restricted data never leaves the MEC node' });
    expect(egressRule(leaky, 'restricted', 'mec')).toEqual({ allowed: true, transforms: ['strip-metadata'] });
  });

  it('BAD CALL - an unknown data class or tier -> denied', () => {
    expect(egressRule(defaultPolicy, 'secret' as DataClass, 'mec')).toEqual({ allowed: false, reason: 'unknown data class "secret"' });
    expect(egressRule(defaultPolicy, 'public', 'moon' as Tier)).toEqual({ allowed: false, reason: 'unknown tier "moon"' });
    expect(egressRule(defaultPolicy, 'constructor' as DataClass, 'mec')).toMatchObject({ allowed: false });
    expect(egressRule(defaultPolicy, undefined as unknown as DataClass, 'device')).toMatchObject({ allowed: false });
    expect(egressRule(defaultPolicy, 'public', undefined as unknown as Tier)).toMatchObject({ allowed: false });
  });

  it('BAD CALL - a class missing from the policy object, or with no tiers list -> denied for every tier', () => {
    const missing = handBuilt({ public: defaultPolicy.spec.dataClasses.public });
    for (const tier of TIERS) {
      expect(egressRule(missing, 'internal', tier)).toEqual({ allowed: false, reason: `policy does not let internal data reach ${tier}` });
    }
    const noTiers = handBuilt({ ...defaultPolicy.spec.dataClasses, public: { transforms: {} } });
    expect(egressRule(noTiers, 'public', 'device')).toEqual({ allowed: false, reason: 'policy does not let public data reach device' });
  });

  it('BAD CALL - a transform the platform does not know, or a transforms entry that is not a list -> denied', () => {
    const unknownTransform = handBuilt({ ...defaultPolicy.spec.dataClasses, public: { tiers: ['device', 'mec', 'cloud'], transforms: { cloud: ['blur-faces', 'encrypt'] } } });
    expect(egressRule(unknownTransform, 'public', 'cloud')).toEqual({ allowed: false, reason: 'policy requires unknown transform "encrypt" before cloud' });
    expect(egressRule(unknownTransform, 'public', 'mec')).toEqual({ allowed: true, transforms: ['strip-metadata'] });
    const notAList = handBuilt({ ...defaultPolicy.spec.dataClasses, public: { tiers: ['device', 'mec', 'cloud'], transforms: { cloud: 'blur-faces' } } });
    expect(egressRule(notAList, 'public', 'cloud')).toEqual({ allowed: false, reason: 'policy transforms for cloud are not a list' });
  });

  it('strip-metadata is listed once even when the policy names it too; policy transforms follow in order', () => {
    const explicit = handBuilt({ ...defaultPolicy.spec.dataClasses, public: { tiers: ['device', 'mec', 'cloud'], transforms: { mec: ['blur-faces', 'strip-metadata'] } } });
    expect(egressRule(explicit, 'public', 'mec')).toEqual({ allowed: true, transforms: ['strip-metadata', 'blur-faces'] });
    const nullTransforms = handBuilt({ ...defaultPolicy.spec.dataClasses, public: { tiers: ['mec'], transforms: null } });
    expect(egressRule(nullTransforms, 'public', 'mec')).toEqual({ allowed: true, transforms: ['strip-metadata'] });
  });
});
