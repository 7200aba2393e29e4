/**
 * The model repository over a scratch copy of the fixture repository, with a real runtime:
 * strict names, card and file checks before loading, load/unload/reload while serving.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { ModelCard } from '../../services/core/contracts.ts';
import { createRepository, type ModelRegistry } from '../../services/registry/index.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { codeOf, f32, FIXTURES, sumInputs } from '../runtime/helpers.ts';

let root: string;
let runtime: OnnxRuntime;
let registry: ModelRegistry;

async function readCard(name: string): Promise<ModelCard> {
  return JSON.parse(await readFile(path.join(root, name, 'card.json'), 'utf8')) as ModelCard;
}

async function writeCard(name: string, card: unknown): Promise<void> {
  await writeFile(path.join(root, name, 'card.json'), typeof card === 'string' ? card : JSON.stringify(card, null, 2));
}

/** A copy of the `sum` folder under another name, its card adjusted. */
async function copySum(name: string, edit: (card: ModelCard) => void = () => undefined): Promise<ModelCard> {
  await cp(path.join(FIXTURES, 'sum'), path.join(root, name), { recursive: true });
  const card = await readCard(name);
  card.name = name;
  edit(card);
  await writeCard(name, card);
  return card;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mec-registry-'));
  await cp(FIXTURES, root, { recursive: true });
  const config = loadConfig({ runtime: { workers: 1 }, models: { repository: root, load: ['sum', 'slow'] } });
  runtime = createRuntime(config);
  registry = await createRepository({ config, runtime });
});

afterAll(async () => {
  await registry?.close();
  await rm(root, { recursive: true, force: true });
});

describe('repository: index, get, infer', () => {
  it('indexes every model on disk with its state', () => {
    expect(registry.index()).toEqual([
      { name: 'int', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'reshape', version: '1', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'slow', version: '1', state: 'READY' },
      { name: 'sum', version: '1', state: 'READY' },
    ]);
  });

  it('gets a loaded model with its card and signature; latest version when none is named', () => {
    const model = registry.get('sum');
    expect(model.version).toBe('1');
    expect(model.card.name).toBe('sum');
    expect(model.signature.inputs.map((input) => input.name)).toEqual(['INPUT0', 'INPUT1']);
    expect(registry.get('sum', '1').version).toBe('1');
    expect(registry.isReady('sum')).toBe(true);
    expect(registry.isReady('int')).toBe(false);
    expect(registry.isReady('../sum')).toBe(false);
  });

  it('runs a model through the runtime and names the version', async () => {
    const result = await registry.infer('sum', undefined, sumInputs(1, 1));
    expect(result.version).toBe('1');
    expect((result.outputs.OUTPUT0!.data as Float32Array)[0]).toBe(1);
  });

  it('BAD CALL - unknown model -> EDGE_ERR_MODEL_NOT_FOUND; on disk but not loaded -> _NOT_READY; other version -> _VERSION_NOT_FOUND', async () => {
    expect(await codeOf(registry.infer('nope', undefined, sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(registry.load('nope'))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(registry.unload('nope'))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(registry.infer('int', undefined, sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NOT_READY');
    expect(await codeOf(registry.infer('sum', '2', sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_VERSION_NOT_FOUND');
    expect(await codeOf(registry.infer('sum', '../1', sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NAME_INVALID');
    expect(registry.index().map((entry) => entry.name)).not.toContain('nope');
  });
});

describe('repository: names are checked before the disk is touched', () => {
  const BAD_NAMES = ['', '..', '.', '../sum', 'sum/..', '..%2fsum', 'a/b', 'a\\b', 'sum\0', 'sum\0.onnx', ' sum', 'sum ', 'a b', 'sum\n', 'x'.repeat(256), 'x'.repeat(129), '.hidden', '-sum', 'a..b', '/etc/passwd', 'C:\\models', 'süm'];

  it('BAD CALL - hostile model names -> EDGE_ERR_MODEL_NAME_INVALID everywhere', async () => {
    for (const name of BAD_NAMES) {
      const label = JSON.stringify(name);
      expect(await codeOf(registry.load(name)), label).toBe('EDGE_ERR_MODEL_NAME_INVALID');
      expect(await codeOf(registry.unload(name)), label).toBe('EDGE_ERR_MODEL_NAME_INVALID');
      expect(await codeOf(registry.infer(name, undefined, sumInputs(1, 0))), label).toBe('EDGE_ERR_MODEL_NAME_INVALID');
      expect(() => registry.get(name), label).toThrow(expect.objectContaining({ code: 'EDGE_ERR_MODEL_NAME_INVALID' }));
    }
  });

  it('accepts the longest valid name (128 characters)', async () => {
    expect(await codeOf(registry.load('x'.repeat(128)))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
  });
});

describe('repository: cards and files are checked before loading', () => {
  it('BAD CALL - a tampered ONNX file -> EDGE_ERR_MODEL_CHECKSUM_MISMATCH, the model stays UNAVAILABLE', async () => {
    await copySum('tampered');
    const file = path.join(root, 'tampered', '1', 'model.onnx');
    const bytes = await readFile(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    await writeFile(file, bytes);
    expect(await codeOf(registry.load('tampered'))).toBe('EDGE_ERR_MODEL_CHECKSUM_MISMATCH');
    const entry = registry.index().find((candidate) => candidate.name === 'tampered')!;
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toMatch(/sha256/);
    expect(await codeOf(registry.infer('tampered', undefined, sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NOT_READY');
    expect((await registry.infer('sum', undefined, sumInputs(1, 0))).version).toBe('1');
  });

  it('BAD CALL - invalid cards -> EDGE_ERR_MODEL_CARD_INVALID', async () => {
    const cases: Array<[string, (card: ModelCard) => unknown]> = [
      ['not-json', () => '{ "name": '],
      ['not-object', () => '[1, 2]'],
      ['no-sha', (card) => ({ ...card, sha256: undefined })],
      ['short-sha', (card) => ({ ...card, sha256: 'abc' })],
      ['wrong-name', (card) => ({ ...card, name: 'sum' })],
      ['bad-version', (card) => ({ ...card, version: '../2' })],
      ['bad-datatype', (card) => ({ ...card, inputs: [{ ...card.inputs[0], datatype: 'FLOAT' }, card.inputs[1]] })],
      ['no-inputs', (card) => ({ ...card, inputs: [] })],
      ['wrong-tensors', (card) => ({ ...card, inputs: [{ ...card.inputs[0], name: 'IMAGE' }, card.inputs[1]] })],
      ['wrong-type', (card) => ({ ...card, outputs: card.outputs.map((output) => ({ ...output, datatype: 'INT32' })) })],
    ];
    for (const [name, edit] of cases) {
      const card = await copySum(name);
      await writeCard(name, edit(card));
      expect(await codeOf(registry.load(name)), name).toBe('EDGE_ERR_MODEL_CARD_INVALID');
      expect(registry.isReady(name)).toBe(false);
    }
    // A card whose tensors disagree with the model was loaded, found wrong and unloaded again.
    expect(runtime.loadedModels().map((model) => model.name).sort()).toEqual(['slow', 'sum']);
  });

  it('BAD CALL - a card "file" outside the model folder (relative, absolute, through a link) -> EDGE_ERR_MODEL_CARD_INVALID', async () => {
    const realSum = path.join(root, 'sum', '1', 'model.onnx');
    for (const [name, file] of [
      ['escape-relative', '../sum/1/model.onnx'],
      ['escape-absolute', realSum],
      ['escape-dot', '.'],
    ] as const) {
      await copySum(name, (card) => (card.file = file));
      expect(await codeOf(registry.load(name)), name).toBe('EDGE_ERR_MODEL_CARD_INVALID');
    }
    await copySum('escape-link', (card) => (card.file = '1/link.onnx'));
    await symlink(realSum, path.join(root, 'escape-link', '1', 'link.onnx'));
    expect(await codeOf(registry.load('escape-link'))).toBe('EDGE_ERR_MODEL_CARD_INVALID');
  });

  it('BAD CALL - ONNX external data pointing outside the folder -> EDGE_ERR_MODEL_LOAD_FAILED; inside the folder it loads', async () => {
    const external = path.join(PROJECT_ROOT, 'test', 'fixtures', 'models', 'external');
    for (const label of ['inside', 'escape']) {
      const name = `external-${label}`;
      await mkdir(path.join(root, name), { recursive: true });
      await cp(path.join(external, label), path.join(root, name, '1'), { recursive: true });
      const bytes = await readFile(path.join(root, name, '1', 'model.onnx'));
      const tensor = { name: '', datatype: 'FP32', shape: [-1, 4], description: '' };
      await writeCard(name, {
        name,
        version: '1',
        task: 'test-fixture',
        file: '1/model.onnx',
        sha256: sha256(bytes),
        inputs: [{ ...tensor, name: 'INPUT0' }],
        outputs: [{ ...tensor, name: 'OUTPUT0' }],
      });
    }
    const error = (await registry.load('external-escape').catch((caught: unknown) => caught)) as { code: string; message: string };
    expect(error.code).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(error.message).toMatch(/external data "\.\.\/\.\.\/\.\.\/outside\.bin" resolves outside/); // refused before onnxruntime saw it
    await registry.load('external-inside');
    const result = await registry.infer('external-inside', '1', { INPUT0: f32([1, 4], () => 10) });
    expect(Array.from(result.outputs.OUTPUT0!.data as Float32Array)).toEqual([10, 11, 12, 13]);
    await registry.unload('external-inside');
  });
});

describe('repository: load, unload and reload keep serving', () => {
  it('reloads a new version while requests keep succeeding, then drops the old one', async () => {
    await copySum('live');
    await registry.load('live');
    let stop = false;
    const served = new Map<string, number>();
    const failures: string[] = [];
    const traffic = (async () => {
      while (!stop) {
        try {
          const result = await registry.infer('live', undefined, sumInputs(1, 0));
          served.set(result.version, (served.get(result.version) ?? 0) + 1);
        } catch (error) {
          failures.push(String((error as { code?: string }).code));
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const folder = path.join(root, 'live');
    await cp(path.join(folder, '1'), path.join(folder, '2'), { recursive: true });
    const card = await readCard('live');
    await writeCard('live', { ...card, version: '2', file: '2/model.onnx' });
    await registry.load('live');
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(served.get('1')).toBeGreaterThan(0);
    expect(served.get('2')).toBeGreaterThan(0);
    expect(registry.get('live').version).toBe('2');
    expect(runtime.signature('live', '1')).toBeUndefined(); // the old version's sessions are gone
    expect(registry.index().find((entry) => entry.name === 'live')).toEqual({ name: 'live', version: '2', state: 'READY' });
  });

  it('a version a request holds outlives the reload grace until it is let go (a long transcription runs it again and again)', async () => {
    await copySum('held');
    await registry.load('held');
    const release = registry.hold('held', '1');
    const folder = path.join(root, 'held');
    await cp(path.join(folder, '1'), path.join(folder, '2'), { recursive: true });
    const card = await readCard('held');
    await writeCard('held', { ...card, version: '2', file: '2/model.onnx' });
    let reloaded = false;
    const reload = registry.load('held').then(() => (reloaded = true));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // past the 1-s grace
    expect(registry.get('held').version).toBe('2');
    expect((await registry.infer('held', '1', sumInputs(1, 0))).version).toBe('1'); // still there for its holder
    expect(reloaded).toBe(false);
    release();
    release(); // idempotent
    await reload;
    expect(await codeOf(registry.infer('held', '1', sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_VERSION_NOT_FOUND');
    expect(runtime.signature('held', '1')).toBeUndefined();
  });

  it('BAD CALL - a reload that fails keeps the old version serving', async () => {
    const card = await readCard('live');
    await writeCard('live', { ...card, version: '3', sha256: '0'.repeat(64) });
    expect(await codeOf(registry.load('live'))).toBe('EDGE_ERR_MODEL_CHECKSUM_MISMATCH');
    expect(registry.get('live').version).toBe('2');
    expect((await registry.infer('live', undefined, sumInputs(1, 0))).version).toBe('2');
    const entry = registry.index().find((candidate) => candidate.name === 'live')!;
    expect(entry.state).toBe('READY');
    expect(entry.version).toBe('2');
    expect(entry.reason).toMatch(/reload failed, still serving 2/);
    await writeCard('live', card);
  });

  it('loading what is already served changes nothing; concurrent loads run one after another', async () => {
    await Promise.all([registry.load('live'), registry.load('live'), registry.load('live')]);
    expect(runtime.loadedModels().filter((model) => model.name === 'live')).toHaveLength(1);
  });

  it('unloads: requests are refused, the index says why, a new load serves again', async () => {
    await registry.unload('live');
    expect(await codeOf(registry.infer('live', undefined, sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NOT_READY');
    expect(registry.index().find((entry) => entry.name === 'live')).toEqual({ name: 'live', version: '2', state: 'UNAVAILABLE', reason: 'unloaded' });
    await registry.unload('live'); // idempotent
    await registry.load('live');
    expect((await registry.infer('live', undefined, sumInputs(1, 0))).version).toBe('2');
  });
});

describe('repository: close', () => {
  it('closes the runtime; afterwards requests get EDGE_ERR_SHUTTING_DOWN', async () => {
    const config = loadConfig({ runtime: { workers: 1 }, models: { repository: root, load: ['sum'] } });
    const own = await createRepository({ config, runtime: createRuntime(config) });
    const running = codeOf(own.infer('sum', undefined, sumInputs(1, 0)));
    await own.close();
    expect(await running).toBe('RESOLVED');
    expect(await codeOf(own.infer('sum', undefined, sumInputs(1, 0)))).toBe('EDGE_ERR_SHUTTING_DOWN');
    expect(await codeOf(own.load('int'))).toBe('EDGE_ERR_SHUTTING_DOWN');
    await own.close({ force: true });
  });
});
