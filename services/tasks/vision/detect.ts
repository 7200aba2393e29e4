/**
 * The detect task: image bytes -> COCO objects with boxes in the original (upright) image's pixels.
 */
import type { DetectOptions, DetectResult } from '../../core/contracts.ts';
import { throwIfCancelled } from '../../core/errors.ts';
import { openImage } from '../common/image.ts';
import { checkOptions, resolveLimits } from './options.ts';
import { PhaseClock } from '../common/phases.ts';
import { whileAdmitted } from '../common/admitted.ts';
import { whileHolding } from '../common/held.ts';
import { inferOptionsOf } from '../common/run-options.ts';
import type { VisionContext } from './context.ts';

export function createDetect(context: VisionContext): (image: Buffer, options?: DetectOptions) => Promise<DetectResult> {
  return async function detect(image, options = {}) {
    const name = options.model ?? context.defaultDetector;
    const clock = new PhaseClock('detect', name);
    try {
      checkOptions(options);
      // An already cancelled request does no work.
      throwIfCancelled(options.signal);
      const model = context.models.detector(name);
      clock.version = model.version;
      const settings = { ...resolveLimits(model.card, options.threshold, options.max), labels: model.card.labels };

      return await whileHolding(context.repository, [{ name, version: model.version }], () => whileAdmitted(context.admission, clock, options, async () => {
        // Decoding is fused with the resize to the model's input: the full-size raster is never needed.
        const resampled = await clock.time('decode', async () => model.bound.resample(await openImage(image, context.decodeLimits)));
        const prepared = clock.timeSync('preprocess', () => model.bound.toInputs(resampled));
        const result = await context.repository.infer(name, model.version, prepared.inputs, inferOptionsOf(clock, options, model.bound.outputs));
        clock.addInference(result.timings);
        const detections = clock.timeSync('postprocess', () => model.bound.postprocess(result.outputs, prepared.frame, settings));
        const { width, height } = resampled.frame;
        return { model: name, version: result.version, width, height, detections, timings: clock.finish() };
      }));
    } catch (error) {
      clock.finish(error);
      throw error;
    }
  };
}
