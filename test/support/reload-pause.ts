/**
 * For tests of a reload that happens while a request is under way: a registry over a scratch copy of
 * real models, seen through a proxy that holds every run of one model until released, and a second
 * version of a model folder (same bytes, version "2") swapped in.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { ModelRepository } from '../../services/core/contracts.ts';
import { ModelRegistry } from '../../services/registry/model-registry.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';

export interface PausedRuns {
  repository: ModelRepository;
  /** Resolves when a run of the model is waiting. */
  reached: Promise<void>;
  /** Lets the waiting runs go on. */
  proceed(): void;
}

/** `registry` with every run of `model` waiting until proceed() (everything else passes through). */
export function pauseRuns(registry: ModelRegistry, model: string): PausedRuns {
  let reachedResolve!: () => void;
  const reached = new Promise<void>((resolve) => (reachedResolve = resolve));
  let proceed!: () => void;
  const gate = new Promise<void>((resolve) => (proceed = resolve));
  const repository = new Proxy(registry, {
    get(target, property) {
      if (property === 'infer') {
        return async (...args: Parameters<ModelRepository['infer']>) => {
          if (args[0] === model) {
            reachedResolve();
            await gate;
          }
          return target.infer(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { repository, reached, proceed };
}

/**
 * Writes version 2 of `name` under `root` (a copy of version 1) and starts the reload; resolves once
 * version 2 serves, with the reload's own promise (which ends when the old version is dropped).
 */
export async function reloadToVersion2(registry: ModelRegistry, root: string, name: string): Promise<{ reload: Promise<void> }> {
  const folder = path.join(root, name);
  await cp(path.join(folder, '1'), path.join(folder, '2'), { recursive: true });
  const card = JSON.parse(await readFile(path.join(folder, 'card.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(path.join(folder, 'card.json'), JSON.stringify({ ...card, version: '2', file: '2/model.onnx' }));
  const reload = registry.load(name);
  while (registry.get(name).version !== '2') await new Promise((resolve) => setTimeout(resolve, 10));
  return { reload };
}

export interface ScratchRegistry {
  root: string;
  runtime: OnnxRuntime;
  registry: ModelRegistry;
  close(): Promise<void>;
}

/**
 * A registry over a scratch copy of `models` from models/repository, loaded, with no reload grace:
 * without a hold, a replaced version is dropped the moment the new one serves.
 */
export async function scratchRegistry(models: readonly string[]): Promise<ScratchRegistry> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mec-reload-'));
  for (const name of models) await cp(path.join(PROJECT_ROOT, 'models/repository', name), path.join(root, name), { recursive: true });
  const runtime = createRuntime(loadConfig({ runtime: { workers: 1 } }));
  const registry = new ModelRegistry({ root, runtime, maxQueueSize: 8, queueTimeoutMs: 5_000, retireGraceMs: 0 });
  await registry.refresh();
  await registry.loadAll([...models]);
  return {
    root,
    runtime,
    registry,
    async close() {
      await registry.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
