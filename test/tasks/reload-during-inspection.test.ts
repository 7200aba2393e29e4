/**
 * A reload of the defect model while an inspection waits between its lookup and its run (here: paused
 * just before the run): the inspection holds the version it looked up (tasks/common/held.ts), so it
 * runs on it even though the registry, with no reload grace, would drop it the moment version 2 serves.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { ModelRepository } from '../../services/core/contracts.ts';
import { ModelRegistry } from '../../services/registry/model-registry.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';

let root: string;
let runtime: OnnxRuntime;
let registry: ModelRegistry;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mec-defect-reload-'));
  await cp(path.join(PROJECT_ROOT, 'models/repository/defect'), path.join(root, 'defect'), { recursive: true });
  runtime = createRuntime(loadConfig({ runtime: { workers: 1 } }));
  registry = new ModelRegistry({ root, runtime, maxQueueSize: 8, queueTimeoutMs: 5_000, retireGraceMs: 0 });
  await registry.refresh();
  await registry.loadAll(['defect']);
});

afterAll(async () => {
  await registry?.close();
  await rm(root, { recursive: true, force: true });
});

/** The registry, with every run of `model` waiting for `gate` first (and `reached` told when one does). */
function pausingRuns(model: string, gate: Promise<void>, reached: () => void): ModelRepository {
  return new Proxy(registry, {
    get(target, property) {
      if (property === 'infer') {
        return async (...args: Parameters<ModelRepository['infer']>) => {
          if (args[0] === model) {
            reached();
            await gate;
          }
          return target.infer(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('reloading the defect model during an inspection', () => {
  it('the inspection runs on the version it looked up; the old version is dropped after it', async () => {
    let reached!: () => void;
    const atRun = new Promise<void>((resolve) => (reached = resolve));
    let proceed!: () => void;
    const gate = new Promise<void>((resolve) => (proceed = resolve));
    const inspection = createInspectionTasks({ repository: pausingRuns('defect', gate, reached), config: loadConfig({ runtime: { workers: 1 } }) });
    const frame = await readFile(path.join(PROJECT_ROOT, 'test/fixtures/inspect/brick-hole.jpg'));
    const inspected = inspection.inspect(frame, { surface: 'brick' });
    await atRun;

    const folder = path.join(root, 'defect');
    await cp(path.join(folder, '1'), path.join(folder, '2'), { recursive: true });
    const card = JSON.parse(await readFile(path.join(folder, 'card.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(folder, 'card.json'), JSON.stringify({ ...card, version: '2', file: '2/model.onnx' }));
    const reload = registry.load('defect');
    while (registry.get('defect').version !== '2') await new Promise((resolve) => setTimeout(resolve, 10));
    proceed();

    const result = await inspected;
    expect(result.version).toBe('1');
    expect(result.defective).toBe(true);
    await reload;
    expect(runtime.signature('defect', '1')).toBeUndefined();
  });
});
