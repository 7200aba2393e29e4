/**
 * The vision tasks over real models: the real registry (services/registry) on models/repository,
 * serving through the real ONNX runtime (services/runtime, worker threads).
 */
import { loadConfig, type Config, type ConfigInput } from '../../services/core/config.ts';
import type { ModelRepository, VisionTasks } from '../../services/core/contracts.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createVisionTasks } from '../../services/tasks/vision/index.ts';

export interface VisionUnderTest {
  config: Readonly<Config>;
  /** close() also closes the runtime. */
  repository: ModelRepository;
  tasks: VisionTasks;
}

export async function openVision(models: readonly string[], tasks: ConfigInput['tasks'] = {}): Promise<VisionUnderTest> {
  // One worker: test files run in parallel on 2 cores.
  const config = loadConfig({ runtime: { workers: 1, intraOpThreads: 1 }, tasks, models: { load: [...models] } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: models });
  return { config, repository, tasks: createVisionTasks({ repository, config }) };
}
