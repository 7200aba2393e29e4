/**
 * What the vision tasks share: the repository, the bound models and the decode limits from config.
 */
import type { ModelRepository } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import type { DecodeLimits } from './image.ts';
import { VisionModels } from './models.ts';

export interface VisionContext {
  repository: ModelRepository;
  models: VisionModels;
  decodeLimits: DecodeLimits;
  defaultDetector: string;
}

export function createVisionContext(repository: ModelRepository, config: Readonly<Config>): VisionContext {
  return {
    repository,
    models: new VisionModels(repository),
    decodeLimits: { maxPixels: config.images.maxPixels, formats: config.images.formats },
    defaultDetector: config.models.defaultDetector,
  };
}
