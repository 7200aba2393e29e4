/**
 * Which models the vision tasks can drive, and binding a loaded model to its pre/post-processing.
 * Bindings are cached per loaded signature, so a reload (new signature object) re-binds.
 */
import type { LoadedModel, ModelRepository, ModelSignature } from '../../core/contracts.ts';
import { centernet } from './centernet.ts';
import { nanodetFor } from './nanodet.ts';
import { bindBlazeface, type BoundFaceDetector } from './blazeface.ts';
import { bindEmotion, type BoundExpressionModel } from './emotion.ts';
import { type BoundDetector, type DetectorCodec } from './detector.ts';
import { unsuitable } from '../common/model-io.ts';

export const FACE_DETECTOR_MODEL = 'blazeface';
export const EXPRESSION_MODEL = 'emotion';

const COCO_CLASSES = 80;

/** Object detectors by model name: the decoding depends on the architecture, not only the task. */
const DETECTOR_CODECS: ReadonlyMap<string, (classCount: number) => DetectorCodec> = new Map([
  ['centernet', () => centernet],
  ['nanodet', (classCount: number) => nanodetFor(classCount)],
]);

/** The models detect can run (others answer EDGE_ERR_MODEL_UNSUITABLE). */
export const DETECTOR_MODELS: readonly string[] = [...DETECTOR_CODECS.keys()];

export type Resolved<T> = LoadedModel & { version: string; name: string; bound: T };

function cached<T>(cache: WeakMap<ModelSignature, T>, signature: ModelSignature, bind: () => T): T {
  let bound = cache.get(signature);
  if (bound === undefined) {
    bound = bind();
    cache.set(signature, bound);
  }
  return bound;
}

export class VisionModels {
  private readonly detectors = new WeakMap<ModelSignature, BoundDetector>();
  private readonly faceDetectors = new WeakMap<ModelSignature, BoundFaceDetector>();
  private readonly expressionModels = new WeakMap<ModelSignature, BoundExpressionModel>();

  constructor(private readonly repository: ModelRepository) {}

  /** EDGE_ERR_MODEL_NOT_FOUND / _NOT_READY from the repository; EDGE_ERR_MODEL_UNSUITABLE if not a detector we decode. */
  detector(name: string): Resolved<BoundDetector> {
    const loaded = this.repository.get(name);
    const codec = DETECTOR_CODECS.get(name);
    if (loaded.card.task !== 'object-detection' || codec === undefined) {
      throw unsuitable(name, `it is a ${loaded.card.task} model; object detectors: ${DETECTOR_MODELS.join(', ')}`);
    }
    const classCount = loaded.card.labels.length || COCO_CLASSES;
    const bound = cached(this.detectors, loaded.signature, () => codec(classCount).bind(name, loaded.signature));
    return { ...loaded, name, bound };
  }

  faceDetector(): Resolved<BoundFaceDetector> {
    const loaded = this.repository.get(FACE_DETECTOR_MODEL);
    if (loaded.card.task !== 'face-detection') throw unsuitable(FACE_DETECTOR_MODEL, `it is a ${loaded.card.task} model`);
    const bound = cached(this.faceDetectors, loaded.signature, () => bindBlazeface(FACE_DETECTOR_MODEL, loaded.signature));
    return { ...loaded, name: FACE_DETECTOR_MODEL, bound };
  }

  expressionModel(): Resolved<BoundExpressionModel> {
    const loaded = this.repository.get(EXPRESSION_MODEL);
    if (loaded.card.task !== 'face-expression') throw unsuitable(EXPRESSION_MODEL, `it is a ${loaded.card.task} model`);
    const bound = cached(this.expressionModels, loaded.signature, () => bindEmotion(EXPRESSION_MODEL, loaded.signature));
    return { ...loaded, name: EXPRESSION_MODEL, bound };
  }
}
