/**
 * The placement policy loader: the shipped policies load exactly, every problem of a bad file is
 * reported with its path and line, restricted data can never be let out to the cloud, and the data
 * class of a request is resolved header > tenant > task > default.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { EdgeError } from '../../services/core/errors.ts';
import { loadPolicyFile } from '../../services/scheduler/policy-file.ts';
import { parsePolicy, policyVersion, resolveDataClass, type PolicyProblem } from '../../services/scheduler/policy.ts';
import type { Tier } from '../../services/scheduler/types.ts';
import { codeOf, codeOfSync } from '../support/code-of.ts';

const DEFAULT_FILE = path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml');
const STRICT_FILE = path.join(PROJECT_ROOT, 'blueprints', 'policies', 'strict.yaml');

/** The brief's example; line numbers below refer to it (line 1 = apiVersion). */
const EXAMPLE = `apiVersion: mec.placement/v1
kind: PlacementPolicy
metadata: { name: default, version: 3 }
spec:
  dataClasses:
    public:     { tiers: [device, mec, cloud] }
    internal:   { tiers: [device, mec, cloud], transforms: { cloud: [blur-faces] } }
    restricted: { tiers: [device, mec] }
  defaults:
    dataClass: internal
    deadlineMs: { detect: 1000, inspect: 500, asr: 3000 }
  tenants:
    acme-health: { dataClass: restricted }
  tasks:
    asr: { dataClass: restricted }
  jointInference:
    detect: { enabled: true, filter: threshold, threshold: 0.45 }
`;

/** The example with some lines replaced (exact, once each) so that a test names only what it breaks. */
function edited(...replacements: [from: string, to: string][]): string {
  let text = EXAMPLE;
  for (const [from, to] of replacements) {
    expect(text.split(from)).toHaveLength(2);
    text = text.replace(from, to);
  }
  return text;
}

/** The problems a policy text is refused with (fails the test when it is accepted). */
function problemsOf(text: string, source = 'test.yaml'): PolicyProblem[] {
  try {
    parsePolicy(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeError);
    const edge = error as EdgeError;
    expect(edge.code).toBe('EDGE_ERR_POLICY_INVALID');
    expect(edge.details?.source).toBe(source);
    return edge.details?.errors as PolicyProblem[];
  }
  throw new Error('the policy was accepted');
}

describe('parsePolicy: valid policies', () => {
  it('parses the example into the exact policy, with missing optional parts empty', () => {
    const policy = parsePolicy(EXAMPLE, 'example.yaml');
    expect(policy).toEqual({
      apiVersion: 'mec.placement/v1',
      kind: 'PlacementPolicy',
      metadata: { name: 'default', version: 3 },
      spec: {
        dataClasses: {
          public: { tiers: ['device', 'mec', 'cloud'], transforms: {} },
          internal: { tiers: ['device', 'mec', 'cloud'], transforms: { cloud: ['blur-faces'] } },
          restricted: { tiers: ['device', 'mec'], transforms: {} },
        },
        defaults: { dataClass: 'internal', deadlineMs: { detect: 1000, inspect: 500, asr: 3000 } },
        tenants: { 'acme-health': { dataClass: 'restricted' } },
        tasks: { asr: { dataClass: 'restricted' } },
        jointInference: { detect: { enabled: true, filter: 'threshold', threshold: 0.45 } },
      },
    });
    expect(policyVersion(policy)).toBe('default@3');
  });

  it('tenants, tasks and jointInference are optional and become empty', () => {
    const minimal = EXAMPLE.slice(0, EXAMPLE.indexOf('  tenants:'));
    const policy = parsePolicy(minimal, 'minimal.yaml');
    expect(policy.spec.tenants).toEqual({});
    expect(policy.spec.tasks).toEqual({});
    expect(policy.spec.jointInference).toEqual({});
  });

  it('the returned policy is deeply frozen', () => {
    const policy = parsePolicy(EXAMPLE, 'example.yaml');
    expect(() => (policy.spec.dataClasses.restricted.tiers as Tier[]).push('cloud')).toThrow(TypeError);
    expect(() => {
      (policy.spec.dataClasses.restricted as { tiers: readonly Tier[] }).tiers = ['cloud'];
    }).toThrow(TypeError);
    expect(() => {
      (policy.spec.tenants as Record<string, unknown>).intruder = { dataClass: 'public' };
    }).toThrow(TypeError);
    expect(Object.isFrozen(policy.spec.dataClasses.internal.transforms.cloud)).toBe(true);
    expect(Object.isFrozen(policy.spec.defaults.deadlineMs)).toBe(true);
  });

  it('loads the shipped default and strict policies', async () => {
    const byDefault = await loadPolicyFile(DEFAULT_FILE);
    expect(policyVersion(byDefault)).toBe('default@3');
    expect(byDefault.spec).toEqual(parsePolicy(EXAMPLE, 'example.yaml').spec);

    const strict = await loadPolicyFile(STRICT_FILE);
    expect(policyVersion(strict)).toBe('strict@1');
    expect(strict.spec.dataClasses).toEqual({
      public: { tiers: ['device', 'mec', 'cloud'], transforms: {} },
      internal: { tiers: ['device', 'mec'], transforms: {} },
      restricted: { tiers: ['device', 'mec'], transforms: {} },
    });
  });

  it('accepts block style, anchors and aliases as well as flow style', () => {
    const block = edited(['    public:     { tiers: [device, mec, cloud] }', '    public:\n      tiers: &everywhere\n        - device\n        - mec\n        - cloud'], [
      '    internal:   { tiers: [device, mec, cloud],',
      '    internal:   { tiers: *everywhere,',
    ]);
    expect(parsePolicy(block, 'block.yaml').spec).toEqual(parsePolicy(EXAMPLE, 'example.yaml').spec);
  });
});

describe('parsePolicy: invalid policies', () => {
  it('BAD CALL - restricted data allowed to the cloud -> refused at the exact path and line', () => {
    const text = edited(['restricted: { tiers: [device, mec] }', 'restricted: { tiers: [device, cloud] }']);
    expect(problemsOf(text)).toEqual([
      { path: 'spec.dataClasses.restricted.tiers[1]', line: 8, message: '"cloud" is not allowed for restricted data (restricted data never leaves the MEC node)' },
    ]);
    try {
      parsePolicy(text, 'policies/bad.yaml');
    } catch (error) {
      expect((error as Error).message).toBe(
        'invalid placement policy policies/bad.yaml (1 problem):\n' +
          '  policies/bad.yaml:8: spec.dataClasses.restricted.tiers[1]: "cloud" is not allowed for restricted data (restricted data never leaves the MEC node)',
      );
    }
  });

  it('BAD CALL - restricted transforms for the cloud -> refused even without cloud in its tiers', () => {
    const text = edited(['restricted: { tiers: [device, mec] }', 'restricted: { tiers: [device, mec], transforms: { cloud: [blur-faces] } }']);
    expect(problemsOf(text)).toEqual([
      { path: 'spec.dataClasses.restricted.transforms.cloud', line: 8, message: 'restricted data never reaches the cloud, so it takes no transforms for it' },
    ]);
  });

  it('BAD CALL - many problems -> all of them reported, in file order, each with path and line', () => {
    const text = edited(
      ['apiVersion: mec.placement/v1', 'apiVersion: mec.placement/v2'],
      ['version: 3', 'version: 2.5'],
      ['public:     { tiers: [device, mec, cloud] }', 'public:     { tiers: [device, moon, device] }'],
      ['restricted: { tiers: [device, mec] }', 'restricted: { tiers: [cloud] }\n    secret: { tiers: [device] }'],
      ['    dataClass: internal', '    dataClass: confidential'],
      ['  tenants:', '  tenant:'],
      ['filter: threshold, threshold: 0.45', 'filter: margin, threshold: 1.5'],
    );
    expect(problemsOf(text)).toEqual([
      { path: 'apiVersion', line: 1, message: 'must be "mec.placement/v1"; got "mec.placement/v2"' },
      { path: 'metadata.version', line: 3, message: 'must be a positive integer; got 2.5' },
      { path: 'spec.dataClasses.public.tiers[1]', line: 6, message: 'unknown tier "moon" (one of device, mec, cloud)' },
      { path: 'spec.dataClasses.public.tiers[2]', line: 6, message: '"device" is listed twice' },
      { path: 'spec.dataClasses.restricted.tiers[0]', line: 8, message: '"cloud" is not allowed for restricted data (restricted data never leaves the MEC node)' },
      { path: 'spec.dataClasses.secret', line: 9, message: 'unknown field (allowed here: public, internal, restricted)' },
      { path: 'spec.defaults.dataClass', line: 11, message: 'must be one of public, internal, restricted; got "confidential"' },
      { path: 'spec.tenant', line: 13, message: 'unknown field (allowed here: dataClasses, defaults, tenants, tasks, jointInference)' },
      { path: 'spec.jointInference.detect.filter', line: 18, message: 'must be one of threshold, entropy; got "margin"' },
      { path: 'spec.jointInference.detect.threshold', line: 18, message: 'must be a number from 0 to 1; got 1.5' },
    ]);
  });

  it('BAD CALL - a data class left out, or required fields missing -> "... is required" at the parent', () => {
    expect(problemsOf(edited(['    restricted: { tiers: [device, mec] }\n', '']))).toEqual([
      { path: 'spec.dataClasses', line: 5, message: '"restricted" is required' },
    ]);
    expect(problemsOf(edited(['    deadlineMs: { detect: 1000, inspect: 500, asr: 3000 }\n', '']))).toEqual([
      { path: 'spec.defaults', line: 9, message: '"deadlineMs" is required' },
    ]);
    expect(problemsOf(edited(['{ detect: 1000, inspect: 500, asr: 3000 }', '{ detect: 1000, asr: 0 }']))).toEqual([
      { path: 'spec.defaults.deadlineMs', line: 11, message: '"inspect" is required' },
      { path: 'spec.defaults.deadlineMs.asr', line: 11, message: 'must be an integer number of milliseconds from 1 to 3600000; got 0' },
    ]);
    expect(problemsOf(edited(['metadata: { name: default, version: 3 }\n', '']))).toEqual([{ path: '', line: 1, message: '"metadata" is required' }]);
    expect(problemsOf(edited(['{ enabled: true, filter: threshold, threshold: 0.45 }', '{ enabled: yes }']))).toEqual([
      { path: 'spec.jointInference.detect', line: 17, message: '"filter" is required' },
      { path: 'spec.jointInference.detect', line: 17, message: '"threshold" is required' },
      { path: 'spec.jointInference.detect.enabled', line: 17, message: 'must be true or false; got "yes"' },
    ]);
  });

  it('BAD CALL - transforms for a tier the class may not reach, for the device, or unknown -> refused', () => {
    expect(problemsOf(edited(['public:     { tiers: [device, mec, cloud] }', 'public:     { tiers: [device, mec], transforms: { cloud: [blur-faces] } }']))).toEqual([
      { path: 'spec.dataClasses.public.transforms.cloud', line: 6, message: 'transforms for "cloud", which public data may not reach (add it to tiers or remove this)' },
    ]);
    expect(problemsOf(edited(['transforms: { cloud: [blur-faces] }', 'transforms: { device: [blur-faces], cloud: [blur-faces, paint-over], moon: [] }']))).toEqual([
      { path: 'spec.dataClasses.internal.transforms.moon', line: 7, message: 'unknown field (allowed here: device, mec, cloud)' },
      { path: 'spec.dataClasses.internal.transforms.device', line: 7, message: 'transforms apply to data leaving the device; "device" takes none' },
      { path: 'spec.dataClasses.internal.transforms.cloud[1]', line: 7, message: 'unknown transform "paint-over" (one of strip-metadata, blur-faces)' },
    ]);
  });

  it('BAD CALL - wrong kinds of values -> "must be a mapping" / "must be a list", with what was found', () => {
    expect(problemsOf(edited(['public:     { tiers: [device, mec, cloud] }', 'public:     { tiers: cloud }']))).toEqual([
      { path: 'spec.dataClasses.public.tiers', line: 6, message: 'must be a list of tiers (device, mec, cloud); got "cloud"' },
    ]);
    expect(problemsOf(edited(['public:     { tiers: [device, mec, cloud] }', 'public:     { tiers: [] }']))).toEqual([
      { path: 'spec.dataClasses.public.tiers', line: 6, message: 'must list at least one tier' },
    ]);
    expect(problemsOf(edited(['    acme-health: { dataClass: restricted }', '    acme-health: restricted']))).toEqual([
      { path: 'spec.tenants.acme-health', line: 13, message: 'this must be a mapping; got "restricted"' },
    ]);
    expect(problemsOf('- a\n- b\n')).toEqual([{ path: '', line: 1, message: 'the policy document must be a mapping; got a list' }]);
    expect(problemsOf('')).toEqual([{ path: '', message: 'the policy document must be a mapping; got null' }]);
  });

  it('BAD CALL - unknown task, bad tenant id, bad tenant class, bad name -> each reported', () => {
    const text = edited(
      ['name: default', 'name: "default@beta"'],
      ['    acme-health: { dataClass: restricted }', '    acme-health: { dataClass: secret }\n    "bad tenant": { dataClass: public }'],
      ['    asr: { dataClass: restricted }', '    translate: { dataClass: restricted }'],
    );
    expect(problemsOf(text)).toEqual([
      { path: 'metadata.name', line: 3, message: 'must be 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit; got "default@beta"' },
      { path: 'spec.tenants.acme-health.dataClass', line: 13, message: 'must be one of public, internal, restricted; got "secret"' },
      { path: 'spec.tenants["bad tenant"]', line: 14, message: 'a tenant id is 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit' },
      { path: 'spec.tasks.translate', line: 16, message: 'unknown field (allowed here: detect, inspect, asr)' },
    ]);
  });

  it('BAD CALL - YAML that does not parse, duplicate keys, several documents -> the YAML error with its line', () => {
    expect(problemsOf(edited(['kind: PlacementPolicy', '\tkind: PlacementPolicy']))).toEqual([{ path: '', line: 2, message: 'Tabs are not allowed as indentation' }]);
    expect(problemsOf(edited(['kind: PlacementPolicy', 'kind: PlacementPolicy\nkind: PlacementPolicy']))).toEqual([
      { path: '', line: 3, message: 'Map keys must be unique' },
    ]);
    expect(problemsOf(`${EXAMPLE}---\n${EXAMPLE}`)).toMatchObject([{ path: '', line: 18 }]);
  });

  it('BAD CALL - an alias bomb -> refused, not expanded', () => {
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
    expect(problemsOf(bomb)).toEqual([{ path: '', message: 'Excessive alias count indicates a resource exhaustion attack' }]);
  });
});

describe('loadPolicyFile', () => {
  let scratch = '';
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mec-policy-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('BAD CALL - a file that breaks the hard rule -> EDGE_ERR_POLICY_INVALID naming the file and line', async () => {
    const file = path.join(scratch, 'leaky.yaml');
    await writeFile(file, edited(['restricted: { tiers: [device, mec] }', 'restricted: { tiers: [device, mec, cloud] }']));
    const refused = loadPolicyFile(file);
    await expect(refused).rejects.toMatchObject({
      code: 'EDGE_ERR_POLICY_INVALID',
      details: { source: file, errors: [{ path: 'spec.dataClasses.restricted.tiers[2]', line: 8 }] },
    });
    await expect(refused).rejects.toThrow(`${file}:8: spec.dataClasses.restricted.tiers[2]: "cloud" is not allowed for restricted data`);
  });

  it('BAD CALL - a missing file or a folder -> EDGE_ERR_POLICY_INVALID saying it cannot be read', async () => {
    const missing = path.join(scratch, 'missing.yaml');
    await expect(loadPolicyFile(missing)).rejects.toMatchObject({ code: 'EDGE_ERR_POLICY_INVALID', details: { source: missing } });
    await expect(loadPolicyFile(missing)).rejects.toThrow(/cannot read the policy file: ENOENT/);
    await expect(loadPolicyFile(scratch)).rejects.toThrow(/cannot read the policy file: not a regular file/);
  });

  it('BAD CALL - a file over 1 MiB -> refused before parsing', async () => {
    const file = path.join(scratch, 'huge.yaml');
    await writeFile(file, `${EXAMPLE}# ${'x'.repeat(1024 * 1024)}\n`);
    expect(await codeOf(loadPolicyFile(file))).toBe('EDGE_ERR_POLICY_INVALID');
    await expect(loadPolicyFile(file)).rejects.toThrow(/more than the 1048576 a policy may have/);
  });
});

describe('resolveDataClass', () => {
  const policy = parsePolicy(EXAMPLE, 'example.yaml');

  it('a valid header wins over task and default, whatever it says', () => {
    expect(resolveDataClass(policy, { header: 'public', task: 'asr' })).toBe('public');
    expect(resolveDataClass(policy, { header: ' restricted ', task: 'detect' })).toBe('restricted');
  });

  it('a tenant\'s class is a floor: a header may raise it, never lower it', () => {
    expect(resolveDataClass(policy, { header: 'public', tenant: 'acme-health', task: 'detect' })).toBe('restricted');
    expect(resolveDataClass(policy, { header: 'internal', tenant: 'acme-health', task: 'detect' })).toBe('restricted');
    expect(resolveDataClass(policy, { header: 'restricted', tenant: 'other', task: 'detect' })).toBe('restricted');
  });

  it('without a header: the tenant, then the task, then the policy default', () => {
    expect(resolveDataClass(policy, { tenant: 'acme-health', task: 'detect' })).toBe('restricted');
    expect(resolveDataClass(policy, { tenant: 'other', task: 'asr' })).toBe('restricted');
    expect(resolveDataClass(policy, { task: 'asr' })).toBe('restricted');
    expect(resolveDataClass(policy, { tenant: 'other', task: 'detect' })).toBe('internal');
    expect(resolveDataClass(policy, { header: undefined, tenant: undefined, task: 'inspect' })).toBe('internal');
  });

  it('a tenant named like an Object.prototype member gets the default, not the prototype', () => {
    expect(resolveDataClass(policy, { tenant: 'constructor', task: 'detect' })).toBe('internal');
    expect(resolveDataClass(policy, { tenant: '__proto__', task: 'detect' })).toBe('internal');
  });

  it('BAD CALL - a header naming no class -> EDGE_ERR_DATA_CLASS_INVALID, never a silent default', () => {
    for (const header of ['secret', '', 'Public', 'public,internal']) {
      expect(codeOfSync(() => resolveDataClass(policy, { header, tenant: 'acme-health', task: 'detect' }))).toBe('EDGE_ERR_DATA_CLASS_INVALID');
    }
    expect(() => resolveDataClass(policy, { header: 'secret', task: 'detect' })).toThrow('x-data-class must be one of public, internal, restricted; got "secret"');
  });
});
