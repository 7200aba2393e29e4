/**
 * The model repository over config.models.repository. The composition root calls
 * createRepository({ config, runtime }) once; close() of the repository also closes the runtime.
 */
import type { Config } from '../core/config.ts';
import type { ModelRuntime } from '../core/contracts.ts';
import { ModelRegistry } from './model-registry.ts';

export { ModelRegistry, type ModelRegistryOptions } from './model-registry.ts';
export { assertModelsInRepository } from './assert-on-disk.ts';
export { assertModelName, assertModelVersion, isValidModelName, isValidModelVersion } from './model-name.ts';

export interface CreateRepositoryOptions {
  config: Pick<Readonly<Config>, 'runtime' | 'models'>;
  runtime: ModelRuntime;
  /** Models to load now (default config.models.load). A model that fails stays UNAVAILABLE with its reason in index(). */
  load?: readonly string[];
}

export async function createRepository({ config, runtime, load }: CreateRepositoryOptions): Promise<ModelRegistry> {
  const registry = new ModelRegistry({
    root: config.models.repository,
    runtime,
    maxQueueSize: config.runtime.maxQueueSize,
    queueTimeoutMs: config.runtime.queueTimeoutMs,
    batching: config.runtime.batching,
  });
  await registry.refresh();
  await registry.loadAll(load ?? config.models.load);
  return registry;
}
