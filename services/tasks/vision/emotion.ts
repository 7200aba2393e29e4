/**
 * Facial expression (oarriaga's mini-Xception, FER2013): pre- and post-processing.
 *
 * Input `input_1` [N,64,64,1] (N variable): one grey channel, grey = 0.2989 R + 0.5870 G + 0.1140 B
 * (Rec. 601, as MATLAB's rgb2gray and Human use), scaled to [-1, 1] ((grey / 255 - 0.5) * 2).
 * The crop is the detected face box made square and grown by CROP_SCALE, then resized to 64x64.
 * Output [N,7]: softmax probabilities in the card's label order
 * (angry, disgust, fear, happy, sad, surprise, neutral).
 */
import type { Box, ModelSignature, Tensor } from '../../core/contracts.ts';
import { cropTo } from './pixels.ts';
import { squareCrop } from './geometry.ts';
import type { ImageSource } from '../common/image.ts';
import { labelOf } from './detector.ts';
import { floatOutput, unsuitable } from '../common/model-io.ts';

/** FER2013 faces include some forehead and chin around what BlazeFace boxes. */
const CROP_SCALE = 1.2;
const GREY = [0.2989, 0.587, 0.114] as const;

export interface Expression {
  expression: Record<string, number>;
  dominant: string;
}

export interface BoundExpressionModel {
  /** True when one run can take every face (input dimension 0 is variable). */
  batched: boolean;
  output: string;
  /** One input per model run: all faces in one tensor when batched, else one tensor per face. */
  preprocess(image: ImageSource, faces: readonly Box[]): Promise<Record<string, Tensor>[]>;
  /** One output tensor per run, in the order of preprocess' inputs. */
  postprocess(outputs: readonly Record<string, Tensor>[], faceCount: number, labels: readonly string[]): Expression[];
}

/** Probabilities that sum to 1: a softmax when the model gave logits, else a renormalisation. */
function toProbabilities(values: Float32Array): Float64Array {
  let sum = 0;
  let looksLikeProbabilities = true;
  for (const value of values) {
    if (!(value >= 0 && value <= 1)) looksLikeProbabilities = false;
    sum += value;
  }
  const result = new Float64Array(values.length);
  if (looksLikeProbabilities && Math.abs(sum - 1) < 1e-2 && sum > 0) {
    for (let i = 0; i < values.length; i++) result[i] = values[i]! / sum;
    return result;
  }
  const peak = Math.max(...values);
  let total = 0;
  for (let i = 0; i < values.length; i++) total += result[i] = Math.exp(values[i]! - peak);
  for (let i = 0; i < values.length; i++) result[i] = result[i]! / total;
  return result;
}

export function bindEmotion(model: string, signature: ModelSignature): BoundExpressionModel {
  const input = signature.inputs[0];
  const output = signature.outputs[0];
  const [batch, height, width, channels] = input?.dims ?? [];
  if (!input || signature.inputs.length !== 1 || input.type !== 'float32' || channels !== 1 || !height || height < 1 || !width || width < 1) {
    throw unsuitable(model, 'expected one float32 input [N,H,W,1]');
  }
  const classes = output?.dims[1];
  if (!output || !classes || classes < 1) throw unsuitable(model, 'expected one output [N,C]');
  const batched = batch === -1;
  const plane = height * width;

  return {
    batched,
    output: output.name,
    async preprocess(image: ImageSource, faces: readonly Box[]) {
      const crops = await Promise.all(faces.map((face) => cropTo(image, squareCrop(face, CROP_SCALE, image.width, image.height), width, height)));
      const tensorOf = (selected: readonly Buffer[]): Record<string, Tensor> => {
        const data = new Float32Array(selected.length * plane);
        selected.forEach((rgb, face) => {
          const offset = face * plane;
          for (let pixel = 0, source = 0; pixel < plane; pixel++, source += 3) {
            const grey = GREY[0] * rgb[source]! + GREY[1] * rgb[source + 1]! + GREY[2] * rgb[source + 2]!;
            data[offset + pixel] = (grey / 255 - 0.5) * 2;
          }
        });
        return { [input.name]: { type: 'float32', dims: [selected.length, height, width, 1], data } };
      };
      return batched ? [tensorOf(crops)] : crops.map((crop) => tensorOf([crop]));
    },
    postprocess(outputs: readonly Record<string, Tensor>[], faceCount: number, labels: readonly string[]) {
      const rows: Float32Array[] = [];
      for (const result of outputs) {
        const perRun = batched ? faceCount : 1;
        const values = floatOutput(result, output.name, perRun * classes);
        for (let face = 0; face < perRun; face++) rows.push(values.subarray(face * classes, (face + 1) * classes));
      }
      return rows.map((row) => {
        const probabilities = toProbabilities(row);
        const expression: Record<string, number> = {};
        let dominant = 0;
        probabilities.forEach((probability, index) => {
          expression[labelOf(labels, index)] = probability;
          if (probability > probabilities[dominant]!) dominant = index;
        });
        return { expression, dominant: labelOf(labels, dominant) };
      });
    },
  };
}
