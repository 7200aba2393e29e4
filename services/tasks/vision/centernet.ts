/**
 * CenterNet (MobileNetV3, COCO): pre- and post-processing.
 *
 * Input `tower_0/images` [1,512,512,3]: RGB, float 0-255, NHWC, letterboxed (aspect kept, centred on
 * black). Human stretches instead; letterboxing scored higher on 3 of the 4 fixture photos and is the
 * only way the cat in chelsea.png comes out as a cat (0.55) rather than a dog. The graph decodes its own heatmap: `tower_0/detections` [1,100,6] holds the
 * top 100 peaks as rows [x1, y1, x2, y2, score, class], corners in 512-input pixels, score the
 * sigmoid peak (0..1), class the 0-based COCO index. The peaks are not suppressed across
 * neighbouring cells, so near-identical boxes of one class come in pairs: per-class NMS removes them.
 */
import type { Detection, ModelSignature, PixelEncoding, Tensor } from '../../core/contracts.ts';
import { letterboxTo, type Frame } from './pixels.ts';
import { suppressOverlaps, type Candidate } from './geometry.ts';
import type { ImageSource } from '../common/image.ts';

/** 0-255 as they are, widened to float32 on the worker. */
const AS_IS: PixelEncoding = { scale: [1], offset: [0], channelAxis: 3 };
import { toDetections, type BoundDetector, type DetectorCodec, type DetectorSettings, type Resampled } from './detector.ts';
import { findSpec, floatOutput, unsuitable } from '../common/model-io.ts';

const INPUT = 'tower_0/images';
const DETECTIONS = 'tower_0/detections';
const COLUMNS = 6;

export const centernet: DetectorCodec = {
  bind(model: string, signature: ModelSignature): BoundDetector {
    const input = findSpec(signature.inputs, INPUT);
    const output = findSpec(signature.outputs, DETECTIONS);
    const [, height, width, channels] = input?.dims ?? [];
    if (!input || input.type !== 'float32' || !height || height < 1 || width !== height || channels !== 3) {
      throw unsuitable(model, `expected input ${INPUT} float32 [1,S,S,3]`);
    }
    const peaks = output?.dims[1];
    if (!output || output.dims[2] !== COLUMNS || !peaks || peaks < 1) {
      throw unsuitable(model, `expected output ${DETECTIONS} [1,K,6]`);
    }

    return {
      outputs: [DETECTIONS],
      resample: (image: ImageSource) => letterboxTo(image, width),
      toInputs({ rgb, frame }: Resampled) {
        // The model takes 0-255 floats as they are: 8-bit pixels, widened on the worker thread.
        const tensor: Tensor = { type: 'float32', dims: [1, height, width, 3], data: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), pixels: AS_IS };
        return { inputs: { [INPUT]: tensor }, frame };
      },
      postprocess(outputs: Record<string, Tensor>, frame: Frame, settings: DetectorSettings): Detection[] {
        const rows = floatOutput(outputs, DETECTIONS, peaks * COLUMNS);
        const candidates: Candidate[] = [];
        for (let offset = 0; offset < rows.length; offset += COLUMNS) {
          const score = rows[offset + 4]!;
          if (!(score >= settings.threshold)) continue;
          candidates.push({
            x1: rows[offset]!,
            y1: rows[offset + 1]!,
            x2: rows[offset + 2]!,
            y2: rows[offset + 3]!,
            score,
            classIndex: Math.round(rows[offset + 5]!),
          });
        }
        const kept = suppressOverlaps(candidates, { iouThreshold: settings.iouThreshold, max: settings.max, perClass: true });
        return toDetections(kept, frame, settings.labels);
      },
    };
  },
};
