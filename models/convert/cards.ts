/** Builds the model card (services/core/contracts.ts ModelCard) of a converted model. */
import type { CardTensor, ModelCard, V2Datatype } from '../../services/core/contracts.ts';
import { CONVERTER, PACKAGE, type CatalogueEntry } from './catalogue.ts';
import type { OnnxModel, OnnxValueInfo } from './onnx-ir.ts';
import type { DType } from './tensor.ts';

export const CARD_VERSION = '1';
export const MODEL_FILE = '1/model.onnx';

const V2_TYPES: Record<DType, V2Datatype> = { float32: 'FP32', float16: 'FP16', float64: 'FP64', int32: 'INT32', int64: 'INT64', bool: 'BOOL' };

/**
 * Equivalence figures recorded in the card. The bound is allclose-style: a difference passes
 * when it is within ABS_TOLERANCE + REL_TOLERANCE * (largest |value| of that output), since
 * outputs in pixels or logits (hundreds) cannot agree to 1e-4 in float32 after 60 layers
 * summed in a different order, while scores and probabilities (0..1) are held to ~1e-4.
 */
export const ABS_TOLERANCE = 1e-4;
export const REL_TOLERANCE = 1e-5;

export interface CardVerification {
  images: string[];
  reference: string;
  tolerance: string;
  maxAbsDiff: Record<string, number>;
  maxAbsValue: Record<string, number>;
  date: string;
}

function cardTensor(entry: CatalogueEntry, info: OnnxValueInfo): CardTensor {
  return {
    name: info.name,
    datatype: V2_TYPES[info.dtype],
    shape: info.dims.map((dim) => (typeof dim === 'number' ? dim : -1)),
    description: entry.tensorDescriptions[info.name] ?? '',
  };
}

export function buildCard(entry: CatalogueEntry, model: OnnxModel, sha256: string, verification?: CardVerification): ModelCard {
  const card: ModelCard = {
    name: entry.name,
    version: CARD_VERSION,
    task: entry.task,
    description: entry.description,
    file: MODEL_FILE,
    sha256,
    inputs: model.graph.inputs.map((info) => cardTensor(entry, info)),
    outputs: model.graph.outputs.map((info) => cardTensor(entry, info)),
    labels: entry.labels,
    preprocessing: entry.preprocessing,
    postprocessing: entry.postprocessing,
    defaults: entry.defaults,
    provenance: {
      package: PACKAGE,
      files: [`models/${entry.tfjsFile}`, `models/${entry.tfjsFile.replace(/\.json$/, '.bin')}`],
      upstream: entry.upstream,
      converter: CONVERTER,
    },
    licence: entry.licence,
  };
  if (verification) card.verification = { ...verification };
  return card;
}
