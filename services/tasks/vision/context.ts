/**
 * What the vision tasks share: the repository, the bound models and the decode limits from config.
 */
import type { ModelRepository } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { AdmissionGate } from '../admission.ts';
import type { DecodeLimits } from './image.ts';
import { VisionModels } from './models.ts';

export interface VisionContext {
  repository: ModelRepository;
  models: VisionModels;
  decodeLimits: DecodeLimits;
  defaultDetector: string;
  /** Bounds how many vision requests decode and infer at once (the rest wait as bytes). */
  admission: AdmissionGate;
}

export function createVisionContext(repository: ModelRepository, config: Readonly<Config>): VisionContext {
  return {
    repository,
    models: new VisionModels(repository),
    decodeLimits: { maxPixels: config.images.maxPixels, formats: config.images.formats },
    defaultDetector: config.models.defaultDetector,
    admission: new AdmissionGate({
      concurrency: config.tasks.concurrency || 2 * config.runtime.workers,
      maxWaiting: config.tasks.maxWaiting,
      waitTimeoutMs: config.runtime.queueTimeoutMs,
    }),
  };
}
