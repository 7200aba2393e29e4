/**
 * What the inspection task shares across requests: the repository, the surface catalogue, the
 * bound models (cached per loaded signature, so a reload re-binds), limits from config and the
 * node's admission gate.
 */
import type { ModelRepository, ModelSignature } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import type { AdmissionGate } from '../admission.ts';
import type { DecodeLimits } from '../common/image.ts';
import { bindDefectModel, type BoundDefectModel } from './defect-model.ts';
import { SurfaceCatalogue, type SurfaceEntry } from './surfaces.ts';

export interface InspectionContext {
  repository: ModelRepository;
  surfaces: SurfaceCatalogue;
  bind(surface: SurfaceEntry): BoundDefectModel;
  decodeLimits: DecodeLimits;
  maxTiles: number;
  maxRegions: number;
  admission: AdmissionGate;
}

export function createInspectionContext(repository: ModelRepository, config: Readonly<Config>, admission: AdmissionGate): InspectionContext {
  const bound = new WeakMap<ModelSignature, BoundDefectModel>();
  return {
    repository,
    surfaces: new SurfaceCatalogue(repository),
    bind(surface) {
      const signature = surface.loaded.signature;
      let model = bound.get(signature);
      if (model === undefined) {
        model = bindDefectModel(surface.model, signature);
        bound.set(signature, model);
      }
      return model;
    },
    decodeLimits: { maxPixels: config.images.maxPixels, formats: config.images.formats },
    maxTiles: config.inspection.maxTiles,
    maxRegions: config.inspection.maxRegions,
    admission,
  };
}
