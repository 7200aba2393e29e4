/**
 * The faces task: image bytes -> faces (BlazeFace) with expression probabilities (emotion model).
 * The expression model sees every face in one run when its batch dimension is variable.
 */
import type { Face, FacesOptions, FacesResult, InferResult } from '../../core/contracts.ts';
import { throwIfCancelled } from '../../core/errors.ts';
import { decodeImage } from '../common/image.ts';
import { checkOptions, resolveLimits } from './options.ts';
import { PhaseClock } from '../common/phases.ts';
import { whileAdmitted } from '../common/admitted.ts';
import { whileHolding } from '../common/held.ts';
import { inferOptionsOf } from '../common/run-options.ts';
import type { VisionContext } from './context.ts';

export function createFaces(context: VisionContext): (image: Buffer, options?: FacesOptions) => Promise<FacesResult> {
  return async function faces(image, options = {}) {
    const clock = new PhaseClock('faces', 'blazeface');
    try {
      checkOptions(options);
      // An already cancelled request does no work.
      throwIfCancelled(options.signal);
      const detector = context.models.faceDetector();
      const expressions = context.models.expressionModel();
      clock.model = detector.name;
      clock.version = detector.version;
      const settings = resolveLimits(detector.card, options.threshold, options.max);
      const versions = [detector, expressions].map(({ name, version }) => ({ name, version }));

      return await whileHolding(context.repository, versions, () => whileAdmitted(context.admission, clock, options, async () => {
        // The whole raster is decoded once: the face detector's input and every face crop come from it.
        const decoded = await clock.time('decode', () => decodeImage(image, context.decodeLimits));
        const resampled = await clock.time('preprocess', () => detector.bound.resample(decoded));
        const prepared = clock.timeSync('preprocess', () => detector.bound.toInputs(resampled));
        const found = await context.repository.infer(detector.name, detector.version, prepared.inputs, inferOptionsOf(clock, options, detector.bound.outputs));
        clock.addInference(found.timings);
        const boxes = clock.timeSync('postprocess', () => detector.bound.postprocess(found.outputs, prepared.frame, settings));

        let faces: Face[] = [];
        if (boxes.length > 0) {
          const runs = await clock.time('preprocess', () => expressions.bound.preprocess(decoded, boxes.map((face) => face.box)));
          // One run when batched; otherwise one face after another, so that many faces cannot fill the model's queue.
          const results: InferResult[] = [];
          for (const inputs of runs) {
            results.push(await context.repository.infer(expressions.name, expressions.version, inputs, inferOptionsOf(clock, options, [expressions.bound.output])));
          }
          for (const result of results) clock.addInference(result.timings);
          const scored = clock.timeSync('postprocess', () =>
            expressions.bound.postprocess(
              results.map((result) => result.outputs),
              boxes.length,
              expressions.card.labels,
            ),
          );
          faces = boxes.map((face, index) => ({ score: face.score, box: face.box, ...scored[index]! }));
        }

        return { model: detector.name, version: found.version, width: decoded.width, height: decoded.height, faces, timings: clock.finish() };
      }));
    } catch (error) {
      clock.finish(error);
      throw error;
    }
  };
}
