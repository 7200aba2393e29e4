/**
 * BlazeFace face detector (the 128 front model or the 256 model Human ships): pre- and post-processing.
 *
 * Input [N,S,S,3] (S = 128 or 256): RGB, NHWC, scaled to [-1, 1] (x / 127.5 - 1, MediaPipe's range),
 * letterboxed (aspect kept, black padding) so that faces keep their shape.
 * Outputs over 896 anchors whatever S is: 512 on a 16x16 grid (2 anchors a cell) then 384 on an 8x8
 * grid (6 a cell), stride = S / grid, each anchor centred at ((col + 0.5) * stride, (row + 0.5) * stride):
 *   scores [1,A,1]: logits (sigmoid gives 0..1);
 *   regressors [1,A,16]: [dx, dy, w, h] of the face box in input pixels (centre = anchor + d),
 *   then 6 keypoints (x, y) which this task does not use.
 * Overlapping faces are merged by weighted NMS (score-weighted mean box), as MediaPipe does.
 */
import type { ModelSignature, PixelEncoding, Tensor } from '../../core/contracts.ts';
import { letterboxTo, type Frame } from './pixels.ts';
import { suppressOverlaps, toImageBox, type Candidate } from './geometry.ts';
import type { ImageSource } from '../common/image.ts';
import { type PreparedInput, type Resampled } from './detector.ts';
import { floatOutput, unsuitable } from '../common/model-io.ts';

/** x / 127.5 - 1 (MediaPipe's range), widened to float32 on the worker. */
const MINUS_ONE_TO_ONE: PixelEncoding = { scale: [1 / 127.5], offset: [-1], channelAxis: 3 };
import type { Box } from '../../core/contracts.ts';

const ANCHOR_LAYERS = [
  { grid: 16, perCell: 2 },
  { grid: 8, perCell: 6 },
] as const;
const REGRESSORS = 16;

export interface FaceBox {
  score: number;
  box: Box;
}

export interface FaceSettings {
  threshold: number;
  max: number;
  /** Boxes overlapping more are one face (the card's default is MediaPipe's 0.3). */
  iouThreshold: number;
}

export interface BoundFaceDetector {
  outputs: readonly string[];
  /** Decodes and resizes the image to the model's input (libvips, off the main thread). */
  resample(image: ImageSource): Promise<Resampled>;
  /** Lays the resampled pixels out as the model's input tensor. */
  toInputs(resampled: Resampled): PreparedInput;
  postprocess(outputs: Record<string, Tensor>, frame: Frame, settings: FaceSettings): FaceBox[];
}

interface AnchorLayer {
  scores: string;
  regressors: string;
  count: number;
  /** Anchor centres, x then y, in input pixels. */
  centres: Float32Array;
}

function anchorCentres(size: number, grid: number, perCell: number): Float32Array {
  const stride = size / grid;
  const centres = new Float32Array(grid * grid * perCell * 2);
  let index = 0;
  for (let row = 0; row < grid; row++) {
    for (let col = 0; col < grid; col++) {
      for (let anchor = 0; anchor < perCell; anchor++) {
        centres[index++] = (col + 0.5) * stride;
        centres[index++] = (row + 0.5) * stride;
      }
    }
  }
  return centres;
}

const sigmoid = (logit: number): number => 1 / (1 + Math.exp(-Math.max(-80, Math.min(80, logit))));

export function bindBlazeface(model: string, signature: ModelSignature): BoundFaceDetector {
  const input = signature.inputs[0];
  const [, height, width, channels] = input?.dims ?? [];
  if (!input || signature.inputs.length !== 1 || input.type !== 'float32' || channels !== 3 || !height || height < 1 || width !== height) {
    throw unsuitable(model, 'expected one float32 input [1,S,S,3]');
  }
  const size = height;
  const layers: AnchorLayer[] = ANCHOR_LAYERS.map(({ grid, perCell }) => {
    const centres = anchorCentres(size, grid, perCell);
    const count = centres.length / 2;
    const scores = signature.outputs.find((spec) => spec.dims[1] === count && spec.dims[2] === 1);
    const regressors = signature.outputs.find((spec) => spec.dims[1] === count && spec.dims[2] === REGRESSORS);
    if (!scores || !regressors) throw unsuitable(model, `expected outputs [1,${count},1] and [1,${count},${REGRESSORS}]`);
    return { scores: scores.name, regressors: regressors.name, count, centres };
  });

  return {
    outputs: layers.flatMap((layer) => [layer.scores, layer.regressors]),
    resample: (image: ImageSource) => letterboxTo(image, size),
    toInputs({ rgb, frame }: Resampled) {
      const data = new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length);
      return { inputs: { [input.name]: { type: 'float32', dims: [1, size, size, 3], data, pixels: MINUS_ONE_TO_ONE } }, frame };
    },
    postprocess(outputs: Record<string, Tensor>, frame: Frame, settings: FaceSettings): FaceBox[] {
      const candidates: Candidate[] = [];
      for (const layer of layers) {
        const logits = floatOutput(outputs, layer.scores, layer.count);
        const regressors = floatOutput(outputs, layer.regressors, layer.count * REGRESSORS);
        for (let anchor = 0; anchor < layer.count; anchor++) {
          const score = sigmoid(logits[anchor]!);
          if (!(score >= settings.threshold)) continue;
          const base = anchor * REGRESSORS;
          const centreX = layer.centres[anchor * 2]! + regressors[base]!;
          const centreY = layer.centres[anchor * 2 + 1]! + regressors[base + 1]!;
          const halfWidth = Math.abs(regressors[base + 2]!) / 2;
          const halfHeight = Math.abs(regressors[base + 3]!) / 2;
          candidates.push({ x1: centreX - halfWidth, y1: centreY - halfHeight, x2: centreX + halfWidth, y2: centreY + halfHeight, score, classIndex: 0 });
        }
      }
      const kept = suppressOverlaps(candidates, { iouThreshold: settings.iouThreshold, max: settings.max, perClass: false, blend: true });
      const faces: FaceBox[] = [];
      for (const candidate of kept) {
        const box = toImageBox(candidate, frame);
        if (box) faces.push({ score: Math.round(candidate.score * 10_000) / 10_000, box });
      }
      return faces;
    },
  };
}
