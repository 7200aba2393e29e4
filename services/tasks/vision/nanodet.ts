/**
 * NanoDet-m (COCO, 416): pre- and post-processing.
 *
 * Input `input_1` [1,3,416,416]: RGB, NCHW, the whole image stretched to 416x416 (letterboxing scored
 * lower here, unlike CenterNet), normalised per
 * channel with mean [123.675, 116.28, 103.53] and std [58.395, 57.12, 57.375] (NanoDet's own
 * constants; in RGB order they scored the fixture photos best, above Human's plain /255).
 * Outputs, one pair per stride 8/16/32 (grids 52/26/13, N = 2704/676/169 cells):
 *   class scores [1,N,80], already sigmoid (0..1);
 *   box distributions [1,N,44]: 4 sides (left, top, right, bottom) x 11 bins. Distribution focal loss:
 *   distance = softmax(bins) . [0..10], times the stride, measured from the cell centre
 *   ((col + 0.5) * stride, (row + 0.5) * stride) - the legacy GFL head's centres.
 * Pairs are found by shape, not name. Boxes of the same class overlapping above the IoU are merged by NMS.
 */
import type { Detection, ModelSignature, PixelEncoding, Tensor, TensorSpec } from '../../core/contracts.ts';
import { stretchTo, type Frame } from './pixels.ts';
import { suppressOverlaps, type Candidate } from './geometry.ts';
import type { ImageSource } from '../common/image.ts';
import { toDetections, type BoundDetector, type DetectorCodec, type DetectorSettings, type Resampled } from './detector.ts';
import { floatOutput, unsuitable } from '../common/model-io.ts';

const MEAN = [123.675, 116.28, 103.53] as const;
const STD = [58.395, 57.12, 57.375] as const;
/** (x - mean) / std per channel of NCHW, applied on the worker, which also moves the decoder's interleaved RGB to planes. */
const NORMALISED: PixelEncoding = { scale: STD.map((std) => 1 / std), offset: MEAN.map((mean, c) => -mean / STD[c]!), channelAxis: 1, interleaved: true };
const SIDES = 4;

interface Level {
  scores: string;
  distributions: string;
  cells: number;
  grid: number;
  stride: number;
  bins: number;
}

function levelsOf(model: string, outputs: readonly TensorSpec[], inputSize: number, classCount: number): Level[] {
  const byCells = new Map<number, TensorSpec[]>();
  for (const spec of outputs) {
    const cells = spec.dims[1];
    if (spec.dims.length !== 3 || cells === undefined || cells < 1) throw unsuitable(model, `output ${spec.name} is not [1,N,C]`);
    byCells.set(cells, [...(byCells.get(cells) ?? []), spec]);
  }
  const levels: Level[] = [];
  for (const [cells, specs] of byCells) {
    const scores = specs.find((spec) => spec.dims[2] === classCount);
    const distributions = specs.find((spec) => spec !== scores && (spec.dims[2] ?? 0) % SIDES === 0);
    const grid = Math.round(Math.sqrt(cells));
    if (!scores || !distributions || specs.length !== 2 || grid * grid !== cells || inputSize % grid !== 0) {
      throw unsuitable(model, `outputs with ${cells} cells are not a (scores [1,N,${classCount}], boxes [1,N,4*bins]) pair on a square grid`);
    }
    levels.push({ scores: scores.name, distributions: distributions.name, cells, grid, stride: inputSize / grid, bins: distributions.dims[2]! / SIDES });
  }
  if (levels.length === 0) throw unsuitable(model, 'no outputs');
  return levels.sort((a, b) => a.stride - b.stride);
}

/** Expected distance (in bins) of one side's distribution: softmax then mean of the bin indices. */
function expectedBin(values: Float32Array, offset: number, bins: number): number {
  let peak = -Infinity;
  for (let bin = 0; bin < bins; bin++) peak = Math.max(peak, values[offset + bin]!);
  let total = 0;
  let weighted = 0;
  for (let bin = 0; bin < bins; bin++) {
    const weight = Math.exp(values[offset + bin]! - peak);
    total += weight;
    weighted += weight * bin;
  }
  return weighted / total;
}

export function nanodetFor(classCount: number): DetectorCodec {
  return {
    bind(model: string, signature: ModelSignature): BoundDetector {
      const input = signature.inputs[0];
      const [, channels, height, width] = input?.dims ?? [];
      if (!input || signature.inputs.length !== 1 || input.type !== 'float32' || channels !== 3 || !height || height < 1 || width !== height) {
        throw unsuitable(model, 'expected one float32 input [1,3,S,S]');
      }
      const size = height;
      const levels = levelsOf(model, signature.outputs, size, classCount);

      return {
        outputs: levels.flatMap((level) => [level.scores, level.distributions]),
        resample: (image: ImageSource) => stretchTo(image, size, size),
        toInputs({ rgb, frame }: Resampled) {
          // The decoder's interleaved RGB as it is (a copy: the buffer is transferred to the worker,
          // which makes the planes and applies (x - mean) / std per channel).
          const data = new Uint8Array(rgb.subarray(0, 3 * size * size));
          return { inputs: { [input.name]: { type: 'float32', dims: [1, 3, size, size], data, pixels: NORMALISED } }, frame };
        },
        postprocess(outputs: Record<string, Tensor>, frame: Frame, settings: DetectorSettings): Detection[] {
          const candidates: Candidate[] = [];
          for (const level of levels) {
            const scores = floatOutput(outputs, level.scores, level.cells * classCount);
            const boxes = floatOutput(outputs, level.distributions, level.cells * SIDES * level.bins);
            for (let cell = 0; cell < level.cells; cell++) {
              let decoded: [number, number, number, number] | undefined;
              for (let classIndex = 0; classIndex < classCount; classIndex++) {
                const score = scores[cell * classCount + classIndex]!;
                if (!(score >= settings.threshold)) continue;
                // Decode the cell's box once, only for cells that carry a score worth keeping.
                if (!decoded) {
                  const centreX = ((cell % level.grid) + 0.5) * level.stride;
                  const centreY = (Math.floor(cell / level.grid) + 0.5) * level.stride;
                  const base = cell * SIDES * level.bins;
                  decoded = [
                    centreX - expectedBin(boxes, base, level.bins) * level.stride,
                    centreY - expectedBin(boxes, base + level.bins, level.bins) * level.stride,
                    centreX + expectedBin(boxes, base + 2 * level.bins, level.bins) * level.stride,
                    centreY + expectedBin(boxes, base + 3 * level.bins, level.bins) * level.stride,
                  ];
                }
                candidates.push({ x1: decoded[0], y1: decoded[1], x2: decoded[2], y2: decoded[3], score, classIndex });
              }
            }
          }
          const kept = suppressOverlaps(candidates, { iouThreshold: settings.iouThreshold, max: settings.max, perClass: true });
          return toDetections(kept, frame, settings.labels);
        },
      };
    },
  };
}
