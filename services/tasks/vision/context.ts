/**
 * What the vision tasks share: the repository, the bound models and the decode limits from config.
 */
import type { ModelRepository } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { admissionGateFor, type AdmissionGate } from '../admission.ts';
import type { DecodeLimits } from '../common/image.ts';
import { VisionModels } from './models.ts';

export interface VisionContext {
  repository: ModelRepository;
  models: VisionModels;
  decodeLimits: DecodeLimits;
  defaultDetector: string;
  /** Bounds how many task requests decode and infer at once (the rest wait as bytes); shared by the node's tasks. */
  admission: AdmissionGate;
}

export function createVisionContext(repository: ModelRepository, config: Readonly<Config>, admission = admissionGateFor(config)): VisionContext {
  return {
    repository,
    models: new VisionModels(repository),
    decodeLimits: { maxPixels: config.images.maxPixels, formats: config.images.formats },
    defaultDetector: config.models.defaultDetector,
    admission,
  };
}
