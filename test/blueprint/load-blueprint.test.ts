/**
 * Blueprints: the three shipped ones validate; each kind of mistake is reported with its JSON
 * pointer, its line and a hint, and all problems of one file come out together, in line order.
 */
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { EdgeError } from '../../services/core/errors.ts';
import { checkBlueprint, checkBlueprintFile, loadBlueprint, type BlueprintCheck } from '../../services/blueprint/load-blueprint.ts';
import type { BlueprintProblem } from '../../services/blueprint/problem.ts';

const BLUEPRINTS = path.join(PROJECT_ROOT, 'blueprints');

/** A small valid blueprint touching every section; tests change one line at a time. */
const BASE = `apiVersion: mec.blueprints/v1
kind: Blueprint
metadata:
  name: trial
  labels: { site-kind: lab }
spec:
  tiers:
    cloud:
      nodes:
        - name: cloud
          replicas: 2
          resources: { cpu: "2", memory: 2Gi }
          models: [centernet]
    mec:
      nodes:
        - name: mec-a
          location: { site: lab, zone: bench }
          models: [nanodet, defect, blazeface]
          mqtt: { enabled: true }
    devices:
      - kind: phone
        count: 3
        models: [nanodet]
  models:
    detect:
      device: [nanodet]
      mec: [nanodet]
      cloud: [centernet]
    inspect:
      mec: [defect]
  policy:
    file: policies/default.yaml
  streams:
    cameras:
      - { id: cam-1, node: mec-a, surface: brick, fps: 5, transport: mqtt }
  links:
    device-mec: { latencyMs: 10, jitterMs: 2, bandwidthMbit: 50 }
    mec-cloud: { latencyMs: 40, jitterMs: 5, bandwidthMbit: 100 }
  jobs:
    tier: cloud
    tasks: [detect]
    redis: { persistence: aof, maxJobs: 100 }
  sync:
    enabled: true
`;

/** 1-based line of the first line containing `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`fixture has no line with ${needle}`);
  return index + 1;
}

function edit(from: string, to: string, text = BASE): string {
  if (!text.includes(from)) throw new Error(`fixture has no ${from}`);
  return text.replace(from, to);
}

function check(text: string): Promise<BlueprintCheck> {
  return checkBlueprint(text, 'trial.yaml', { baseDir: BLUEPRINTS });
}

/** Exactly one problem, at this path and line, with a message matching and a hint. */
async function onlyProblem(text: string, expected: { path: string; line: number; message: RegExp; hint?: RegExp }): Promise<BlueprintProblem> {
  const result = await check(text);
  expect(result.summary).toBeUndefined();
  expect(result.problems.map((problem) => problem.path)).toEqual([expected.path]);
  const problem = result.problems[0]!;
  expect(problem.line).toBe(expected.line);
  expect(problem.message).toMatch(expected.message);
  expect(problem.hint.length).toBeGreaterThan(10);
  if (expected.hint) expect(problem.hint).toMatch(expected.hint);
  return problem;
}

/** A blueprint's `policy:` block with the policy inline; `restrictedTiers` is where restricted data may go. */
function inlinePolicy(restrictedTiers: string): string {
  return `policy:
    inline:
      apiVersion: mec.placement/v1
      kind: PlacementPolicy
      metadata: { name: inline, version: 2 }
      spec:
        dataClasses:
          public: { tiers: [device, mec, cloud] }
          internal: { tiers: [device, mec, cloud] }
          restricted: { tiers: ${restrictedTiers} }
        defaults:
          dataClass: internal
          deadlineMs: { detect: 1000, inspect: 500, asr: 3000 }`;
}

describe('blueprints that validate', () => {
  it('the three shipped blueprints are valid, with their figures', async () => {
    const figures: Record<string, unknown> = {};
    for (const name of ['mobile-image-recognition', 'field-speech', 'production-line-inspection']) {
      const result = await checkBlueprintFile(path.join(BLUEPRINTS, `${name}.yaml`));
      expect(result.problems).toEqual([]);
      figures[name] = result.summary;
    }
    expect(figures).toEqual({
      'mobile-image-recognition': { name: 'mobile-image-recognition', tiers: 3, nodes: 3, devices: 1, models: 4, cameras: 0, policy: 'default@3' },
      'field-speech': { name: 'field-speech', tiers: 3, nodes: 2, devices: 1, models: 4, cameras: 0, policy: 'default@3' },
      'production-line-inspection': { name: 'production-line-inspection', tiers: 1, nodes: 1, devices: 0, models: 3, cameras: 3, policy: 'strict@1' },
    });
  });

  it('the test fixture is valid, and loadBlueprint returns it frozen with its policy', async () => {
    const result = await check(BASE);
    expect(result.problems).toEqual([]);
    expect(result.summary).toEqual({ name: 'trial', tiers: 3, nodes: 2, devices: 1, models: 4, cameras: 1, policy: 'default@3' });
    const dir = await mkdtemp(path.join(tmpdir(), 'blueprint-'));
    try {
      const file = path.join(dir, 'trial.yaml');
      await writeFile(file, edit('file: policies/default.yaml', `file: ${path.join(BLUEPRINTS, 'policies', 'strict.yaml')}`));
      // strict: internal data may not reach the cloud, where this fixture's jobs run.
      await expect(loadBlueprint(file)).rejects.toMatchObject({ code: 'EDGE_ERR_BLUEPRINT_INVALID' });
      await writeFile(file, BASE.replace('file: policies/default.yaml', `file: ${path.join(BLUEPRINTS, 'policies', 'default.yaml')}`));
      const loaded = await loadBlueprint(file);
      expect(Object.isFrozen(loaded.blueprint)).toBe(true);
      expect(loaded.policy?.metadata).toEqual({ name: 'default', version: 3 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an inline policy validates like a file', async () => {
    const inline = inlinePolicy('[device, mec]');
    const result = await check(edit('policy:\n    file: policies/default.yaml', inline));
    expect(result.problems).toEqual([]);
    expect(result.summary?.policy).toBe('inline@2');
  });
});

describe('BAD CALL - blueprints with mistakes', () => {
  it('BAD CALL - unknown model: path, line and the models there are', async () => {
    const text = edit('models: [nanodet, defect, blazeface]', 'models: [nanodet, defect, blazeface, yolo9]');
    await onlyProblem(text, { path: '/spec/tiers/mec/nodes/0/models/3', line: lineOf(text, 'yolo9'), message: /^model "yolo9" is not in the model repository$/, hint: /nanodet.*models\/repository\/yolo9\/card\.json/ });
  });

  it('BAD CALL - a model name that would leave the repository is refused, not read', async () => {
    const text = edit('models: [nanodet, defect, blazeface]', 'models: [nanodet, defect, blazeface, "../x"]');
    const result = await check(text);
    const paths = result.problems.map((problem) => problem.path);
    expect(paths).toContain('/spec/tiers/mec/nodes/0/models/3');
    expect(result.problems.every((problem) => problem.line === lineOf(text, '"../x"'))).toBe(true);
  });

  it('BAD CALL - a model on a tier that cannot serve its task', async () => {
    const text = edit('        models: [nanodet]\n  models:', '        models: [nanodet, defect]\n  models:');
    await onlyProblem(text, { path: '/spec/tiers/devices/0/models/1', line: lineOf(text, 'count: 3') + 1, message: /defect-inspection, which the device tier cannot serve/, hint: /mec or cloud/ });
  });

  it('BAD CALL - a large variant on devices, and a variant listed under the wrong task', async () => {
    const text = edit('      mec: [defect]', '      mec: [nanodet]');
    const result = await check(text);
    // nanodet is a detector: it cannot inspect, and without an inspection model the camera has nothing to run.
    expect(result.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/spec/models/inspect/mec/0', lineOf(text, '    inspect:') + 1],
      ['/spec/streams/cameras/0/surface', lineOf(text, 'cam-1')],
    ]);
    expect(result.problems[0]!.message).toMatch(/nanodet does object-detection, not defect-inspection/);
    const device = edit('        count: 3\n        models: [nanodet]', '        count: 3\n        models: [nanodet, centernet]');
    await onlyProblem(device, { path: '/spec/tiers/devices/0/models/1', line: lineOf(device, 'models: [nanodet, centernet]'), message: /large variant/, hint: /nanodet/ });
  });

  it('BAD CALL - faces must be blurred before the cloud, and the MEC node has no face detector', async () => {
    // default.yaml blurs faces in internal images bound for the cloud: the MEC node needs blazeface.
    const text = edit('models: [nanodet, defect, blazeface]', 'models: [nanodet, defect]');
    await onlyProblem(text, { path: '/spec/tiers/mec/nodes/0/models', line: lineOf(text, 'models: [nanodet, defect]'), message: /default@3 blurs faces in internal images .* MEC node "mec-a" loads no face detector/, hint: /blazeface/ });
    // strict.yaml keeps internal data on premises: nothing is blurred, no face detector needed.
    const strict = text.replace('policies/default.yaml', 'policies/strict.yaml').replace('    tier: cloud\n', '    tier: mec\n');
    expect((await check(strict)).problems).toEqual([]);
  });

  it('BAD CALL - restricted data routed to the cloud by the blueprint', async () => {
    const text = edit('    tier: cloud\n', '    tier: cloud\n    dataClass: restricted\n');
    await onlyProblem(text, { path: '/spec/jobs/dataClass', line: lineOf(text, 'dataClass: restricted'), message: /restricted data never leaves the MEC node/, hint: /tier: mec/ });
  });

  it('BAD CALL - a restricted task served only on the cloud', async () => {
    // asr is restricted under default.yaml; serving it only on the cloud would send recordings there.
    const text = edit('          models: [centernet]', '          models: [centernet, asr, melspec, speech_embedding, silero_vad]').replace('    inspect:\n      mec: [defect]', '    inspect:\n      mec: [defect]\n    asr:\n      cloud: [asr]');
    await onlyProblem(text, { path: '/spec/models/asr', line: lineOf(text, '    asr:'), message: /asr data is restricted under default@3.*served only on cloud \(restricted data never leaves the MEC node\)/, hint: /serve asr on mec/ });
  });

  it('BAD CALL - an inline policy letting restricted data reach the cloud: reported at its blueprint line', async () => {
    const inline = inlinePolicy('[device, mec, cloud]');
    const text = edit('policy:\n    file: policies/default.yaml', inline);
    await onlyProblem(text, { path: '/spec/policy/inline', line: lineOf(text, 'restricted: { tiers'), message: /"cloud" is not allowed for restricted data/ });
  });

  it('BAD CALL - missing policy file', async () => {
    const text = edit('file: policies/default.yaml', 'file: policies/nope.yaml');
    await onlyProblem(text, { path: '/spec/policy/file', line: lineOf(text, 'nope.yaml'), message: /cannot read the policy file .*nope\.yaml/, hint: /default\.yaml, strict\.yaml/ });
  });

  it('BAD CALL - a policy file that breaks its schema: each of its problems with its own line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blueprint-'));
    try {
      await writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: mec.placement/v1\nkind: PlacementPolicy\nmetadata: { name: bad, version: 0 }\nspec: {}\n');
      const text = edit('file: policies/default.yaml', `file: ${path.join(dir, 'bad.yaml')}`);
      const result = await check(text);
      expect(result.problems.length).toBeGreaterThanOrEqual(2);
      for (const problem of result.problems) {
        expect(problem.path).toBe('/spec/policy/file');
        expect(problem.line).toBe(lineOf(text, 'bad.yaml'));
      }
      expect(result.problems.map((problem) => problem.message)).toContain(`${path.join(dir, 'bad.yaml')}:3: metadata.version: must be a positive integer; got 0`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('BAD CALL - invalid YAML: the line of the syntax error', async () => {
    const text = edit('          replicas: 2', '          replicas: [2');
    const result = await check(text);
    expect(result.problems.length).toBeGreaterThanOrEqual(1);
    expect(result.problems[0]!.path).toBe('');
    expect(result.problems[0]!.line).toBeGreaterThanOrEqual(lineOf(text, 'replicas: [2'));
    expect(result.problems[0]!.line).toBeLessThanOrEqual(lineOf(text, 'replicas: [2') + 1);
    expect(result.problems[0]!.hint).toMatch(/YAML syntax/);
  });

  it('BAD CALL - a key written twice', async () => {
    const text = edit('    tier: cloud\n', '    tier: cloud\n    tier: mec\n');
    const result = await check(text);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ path: '', line: lineOf(text, 'tier: mec'), hint: 'remove or rename the repeated key' });
  });

  it('BAD CALL - unknown keys: the path of the key and the allowed ones', async () => {
    const text = edit('          replicas: 2', '          replica: 2');
    await onlyProblem(text, { path: '/spec/tiers/cloud/nodes/0/replica', line: lineOf(text, 'replica: 2'), message: /unknown field "replica"/, hint: /allowed here: name, replicas, resources, models/ });
    const top = edit('  sync:\n', '  syncing: {}\n  sync:\n');
    await onlyProblem(top, { path: '/spec/syncing', line: lineOf(top, 'syncing'), message: /unknown field "syncing"/, hint: /tiers, models, policy, streams, links, jobs, sync/ });
  });

  it('BAD CALL - duplicate node names', async () => {
    const text = edit('        - name: mec-a', '        - name: cloud').replace('node: mec-a', 'node: cloud');
    await onlyProblem(text, { path: '/spec/tiers/mec/nodes/0/name', line: lineOf(text, 'location:') - 1, message: /node name "cloud" is already used by \/spec\/tiers\/cloud\/nodes\/0/, hint: /own name/ });
  });

  it('BAD CALL - names that are not DNS-1123 labels', async () => {
    const text = edit('  name: trial', '  name: Trial_1').replace('- name: cloud', '- name: cloud.eu');
    const result = await check(text);
    expect(result.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/metadata/name', lineOf(text, 'Trial_1')],
      ['/spec/tiers/cloud/nodes/0/name', lineOf(text, 'cloud.eu')],
    ]);
    for (const problem of result.problems) {
      expect(problem.message).toMatch(/is not a DNS-1123 label/);
      expect(problem.hint).toMatch(/lower-case letters, digits and '-'.*63/);
    }
    // "<blueprint>-<node>" names the rendered objects: 60 + 1 + 5 characters is too long for both nodes.
    const long = edit('  name: trial', `  name: ${'a'.repeat(60)}`);
    const tooLong = await check(long);
    expect(tooLong.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/spec/tiers/cloud/nodes/0/name', lineOf(long, '- name: cloud')],
      ['/spec/tiers/mec/nodes/0/name', lineOf(long, '- name: mec-a')],
    ]);
    expect(tooLong.problems[0]!.message).toMatch(/longer than 63/);
  });

  it('BAD CALL - out-of-range link values', async () => {
    const text = edit('device-mec: { latencyMs: 10, jitterMs: 2, bandwidthMbit: 50 }', 'device-mec: { latencyMs: -5, jitterMs: 2, bandwidthMbit: 0 }').replace(
      'mec-cloud: { latencyMs: 40, jitterMs: 5, bandwidthMbit: 100 }',
      'mec-cloud: { latencyMs: 40, jitterMs: 30, bandwidthMbit: 100 }',
    );
    const result = await check(text);
    expect(result.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/spec/links/device-mec/bandwidthMbit', lineOf(text, 'device-mec')],
      ['/spec/links/device-mec/latencyMs', lineOf(text, 'device-mec')],
      ['/spec/links/mec-cloud/jitterMs', lineOf(text, 'mec-cloud:')],
    ]);
    expect(result.problems[0]!.message).toBe('must be > 0; got 0');
    expect(result.problems[1]!.message).toBe('must be >= 0; got -5');
    expect(result.problems[1]!.hint).toMatch(/0 to 600000 ms/);
    expect(result.problems[2]!.hint).toBe('lower jitterMs to at most 20 or raise latencyMs');
  });

  it('BAD CALL - a camera surface unknown to the defect card', async () => {
    const text = edit('surface: brick', 'surface: marble');
    await onlyProblem(text, { path: '/spec/streams/cameras/0/surface', line: lineOf(text, 'marble'), message: /surface "marble" is unknown to defect/, hint: /brick, grass, gravel, metal, textile/ });
  });

  it('BAD CALL - a camera on MQTT to a node without the bridge, and a camera to a node that does not exist', async () => {
    const text = edit('          mqtt: { enabled: true }', '          mqtt: { enabled: false }').replace(
      '      - { id: cam-1, node: mec-a, surface: brick, fps: 5, transport: mqtt }',
      '      - { id: cam-1, node: mec-a, surface: brick, fps: 5, transport: mqtt }\n      - { id: cam-2, node: mec-z, surface: brick, fps: 5, transport: websocket }',
    );
    const result = await check(text);
    expect(result.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/spec/streams/cameras/0/transport', lineOf(text, 'cam-1')],
      ['/spec/streams/cameras/1/node', lineOf(text, 'cam-2')],
    ]);
    expect(result.problems[1]!.hint).toBe('name one of the MEC nodes: mec-a');
  });

  it('BAD CALL - several problems in one file: all reported, in line order', async () => {
    const text = edit('  name: trial', '  name: Trial')
      .replace('          replicas: 2', '          replicas: 0')
      .replace('models: [nanodet, defect, blazeface]', 'models: [nanodet, defect, blazeface, yolo9]')
      .replace('file: policies/default.yaml', 'file: policies/nope.yaml')
      .replace('surface: brick', 'surface: marble')
      .replace('    tier: cloud\n', '    tier: cloud\n    dataClass: restricted\n')
      .replace('  sync:\n    enabled: true', '  sync:\n    enabled: yes please');
    const result = await check(text);
    expect(result.problems.map((problem) => [problem.path, problem.line])).toEqual([
      ['/metadata/name', lineOf(text, 'Trial')],
      ['/spec/tiers/cloud/nodes/0/replicas', lineOf(text, 'replicas: 0')],
      ['/spec/tiers/mec/nodes/0/models/3', lineOf(text, 'yolo9')],
      ['/spec/policy/file', lineOf(text, 'nope.yaml')],
      ['/spec/streams/cameras/0/surface', lineOf(text, 'marble')],
      // Without a policy the job's class is only what it says: restricted on the cloud is refused anyway.
      ['/spec/jobs/dataClass', lineOf(text, 'dataClass: restricted')],
      ['/spec/sync/enabled', lineOf(text, 'yes please')],
    ]);
    const lines = result.problems.map((problem) => problem.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
    for (const problem of result.problems) expect(problem.hint.length).toBeGreaterThan(5);
  });

  it('BAD CALL - loadBlueprint throws EDGE_ERR_BLUEPRINT_INVALID with every problem in details', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'blueprint-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, edit('surface: brick', 'surface: marble').replace('file: policies/default.yaml', `file: ${path.join(BLUEPRINTS, 'policies', 'default.yaml')}`));
      const error = await loadBlueprint(file).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(EdgeError);
      expect((error as EdgeError).code).toBe('EDGE_ERR_BLUEPRINT_INVALID');
      const problems = (error as EdgeError).details?.problems as BlueprintProblem[];
      expect(problems.map((problem) => problem.path)).toEqual(['/spec/streams/cameras/0/surface']);
      expect((error as EdgeError).message).toContain(`${file}:${lineOf(BASE, 'surface: brick')}: /spec/streams/cameras/0/surface: surface "marble"`);
      const missing = await loadBlueprint(path.join(dir, 'none.yaml')).then(() => undefined, (caught: unknown) => caught);
      expect((missing as EdgeError).code).toBe('EDGE_ERR_BLUEPRINT_INVALID');
      expect((missing as EdgeError).details?.unreadable).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
