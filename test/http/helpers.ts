/**
 * The real stack behind the HTTP edge for tests: runtime (worker threads + onnxruntime), registry
 * on a model repository folder, vision tasks, metrics, and build(). Nothing is mocked.
 */
import { createDispatcher } from '../../services/dispatch/index.ts';
import { loadPolicyFile } from '../../services/scheduler/policy-file.ts';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, mergeConfig, PROJECT_ROOT, type Config, type ConfigInput } from '../../services/core/config.ts';
import type { ModelRepository, ModelRuntime } from '../../services/core/contracts.ts';
import { build } from '../../services/http/app.ts';
import { createMetrics, type Metrics } from '../../services/metrics/metrics.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createVisionTasks } from '../../services/tasks/vision/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { admissionGateFor } from '../../services/tasks/admission.ts';
import { CameraHub } from '../../services/streams/camera-hub.ts';

export const FIXTURE_REPOSITORY = path.join(PROJECT_ROOT, 'test', 'fixtures', 'models', 'repository');
export const MODEL_REPOSITORY = path.join(PROJECT_ROOT, 'models', 'repository');
export const IMAGES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'images');

export interface Stack {
  app: FastifyInstance;
  config: Readonly<Config>;
  runtime: ModelRuntime;
  repository: ModelRepository;
  metrics: Metrics;
  close(): Promise<void>;
}

/** Builds the whole stack on the fixture models (sum, int, slow, reshape) unless told otherwise. */
export async function startStack(overrides: ConfigInput = {}): Promise<Stack> {
  const config = loadConfig(
    mergeConfig(
      {
        log: { level: 'silent' },
        runtime: { workers: 1 },
        models: { repository: FIXTURE_REPOSITORY, load: ['sum', 'int', 'reshape'], defaultDetector: 'centernet' },
      },
      overrides,
    ),
  );
  const runtime = createRuntime(config);
  // Loads config.models.load; a model that fails to load would show in index(), so check below.
  const repository = await createRepository({ config, runtime });
  const missing = config.models.load.filter((name) => !repository.isReady(name));
  if (missing.length > 0) throw new Error(`models not ready: ${JSON.stringify(repository.index().filter((e) => missing.includes(e.name)))}`);
  const admission = admissionGateFor(config);
  const vision = createVisionTasks({ repository, config, admission });
  const inspection = createInspectionTasks({ repository, config, admission });
  const speech = createSpeechTasks({ repository, config, admission });
  const hub = new CameraHub({ inspection, maxCameras: config.streams.maxCameras, idleTimeoutMs: config.streams.idleTimeoutMs, frameTimeoutMs: config.server.defaultInferTimeoutMs });
  const metrics = createMetrics({ runtime, defaultMetrics: false });
  const policy = await loadPolicyFile(config.placement.policyFile);
  const dispatch = createDispatcher({ config, policy: () => policy, repository, admission, vision, inspection, speech, onDecision: (event) => metrics.placementDecided(event) });
  const app = await build(config, { repository, runtime, vision, inspection, speech, metrics, dispatch, streams: { hub } });
  await app.ready();
  let closed: Promise<void> | undefined;
  return {
    app,
    config,
    runtime,
    repository,
    metrics,
    close() {
      closed ??= (async () => {
        await app.close();
        await hub.close();
        metrics.close();
        // The repository closes the runtime too; close() is idempotent, so this is belt and braces.
        await repository.close({ force: true });
        await runtime.close({ force: true });
      })();
      return closed;
    },
  };
}
