/**
 * `mec blueprint validate` as an operator runs it: a real child process of bin/mec.js (the
 * compiled dist/ after `npm run -s build`), its stdout lines and its exit codes 0, 1 and 2.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMec, type MecOutcome } from '../support/mec-cli.ts';
import { PROJECT_ROOT } from '../../services/core/config.ts';

const BLUEPRINTS = path.join(PROJECT_ROOT, 'blueprints');

function mec(...args: string[]): Promise<MecOutcome> {
  return runMec(args, { timeoutMs: 30_000 });
}

let dir: string;

beforeAll(async () => {
  // bin/mec.js runs dist/ only when it is newer than every source: build it so the test runs what ships.
  await promisify(execFile)('npm', ['run', '-s', 'build'], { cwd: PROJECT_ROOT, timeout: 120_000 });
  dir = await mkdtemp(path.join(tmpdir(), 'blueprint-cli-'));
}, 150_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mec blueprint validate', () => {
  it('the shipped blueprints: one "valid" line each, exit 0', async () => {
    const files = ['mobile-image-recognition', 'field-speech', 'production-line-inspection', 'trial'].map((name) => `blueprints/${name}.yaml`);
    const outcome = await mec('blueprint', 'validate', ...files);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout.trim().split('\n')).toEqual([
      'blueprints/mobile-image-recognition.yaml: valid (3 tiers, 3 nodes, 1 device kind, 4 models, 0 cameras, policy default@3)',
      'blueprints/field-speech.yaml: valid (3 tiers, 2 nodes, 1 device kind, 4 models, 0 cameras, policy default@3)',
      'blueprints/production-line-inspection.yaml: valid (1 tier, 1 node, 0 device kinds, 3 models, 3 cameras, policy strict@1)',
      'blueprints/trial.yaml: valid (3 tiers, 2 nodes, 1 device kind, 13 models, 1 camera, policy default@3)',
    ]);
  });

  it('BAD CALL - an invalid blueprint: FILE:LINE: /path: message (hint) per problem, in line order, exit 1', async () => {
    const original = await readFile(path.join(BLUEPRINTS, 'production-line-inspection.yaml'), 'utf8');
    const broken = original
      .replace('policies/strict.yaml', path.join(BLUEPRINTS, 'policies', 'strict.yaml'))
      .replace('surface: metal', 'surface: marble')
      .replace('- name: mec-line-1', '- name: MEC_line_1')
      .replace('latencyMs: 2,', 'latencyMs: 2, latency: 3,');
    const file = path.join(dir, 'broken.yaml');
    await writeFile(file, broken);
    const lineOf = (needle: string) => broken.split('\n').findIndex((line) => line.includes(needle)) + 1;
    const outcome = await mec('blueprint', 'validate', file);
    expect(outcome.code).toBe(1);
    const lines = outcome.stdout.trim().split('\n');
    // The renamed node also orphans the three cameras that name it.
    expect(lines.map((line) => line.split(': ').slice(0, 2).join(': '))).toEqual([
      `${file}:${lineOf('MEC_line_1')}: /spec/tiers/mec/nodes/0/name`,
      `${file}:${lineOf('cam-brick-1')}: /spec/streams/cameras/0/node`,
      `${file}:${lineOf('cam-metal-1')}: /spec/streams/cameras/1/node`,
      `${file}:${lineOf('cam-metal-1')}: /spec/streams/cameras/1/surface`,
      `${file}:${lineOf('cam-textile-1')}: /spec/streams/cameras/2/node`,
      `${file}:${lineOf('latency: 3')}: /spec/links/device-mec/latency`,
    ]);
    expect(lines[3]).toBe(`${file}:${lineOf('cam-metal-1')}: /spec/streams/cameras/1/surface: surface "marble" is unknown to defect (no threshold in its card) (use one of brick, grass, gravel, metal, textile)`);
    expect(lines[5]).toMatch(/unknown field "latency" \(remove it or fix its spelling; allowed here: latencyMs, jitterMs, bandwidthMbit\)$/);
    expect(outcome.stderr).toContain(`${file}: invalid (6 problems)`);
  });

  it('BAD CALL - one valid and one invalid file: both reported, exit 1', async () => {
    const file = path.join(dir, 'bad-yaml.yaml');
    await writeFile(file, 'apiVersion: mec.blueprints/v1\nkind: Blueprint\nmetadata:\n  name: [x\n');
    const outcome = await mec('blueprint', 'validate', 'blueprints/field-speech.yaml', file);
    expect(outcome.code).toBe(1);
    const lines = outcome.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^blueprints\/field-speech\.yaml: valid/);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[1]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:[45]: `));
  });

  it('BAD CALL - unreadable file, no file, unknown option: exit 2', async () => {
    const missing = await mec('blueprint', 'validate', path.join(dir, 'none.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the blueprint');
    const folder = await mec('blueprint', 'validate', dir);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('not a regular file');
    const none = await mec('blueprint', 'validate');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give at least one blueprint file');
    const option = await mec('blueprint', 'validate', '--strictest', 'blueprints/field-speech.yaml');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--strictest'");
  });
});
