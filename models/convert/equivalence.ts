/**
 * The proof that a converted model computes what the original does: the same inputs (real
 * photos, preprocessed as the card says) through the TF.js original on tfjs' CPU backend and
 * through the ONNX file on onnxruntime, compared output by output.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { IMAGES_DIR, TFJS_DIR, type CatalogueEntry } from './catalogue.ts';
import { loadTfjsModel, runTfjs, type PlainTensor } from './tfjs-runner.ts';

export interface OutputComparison {
  /** Largest |onnx - tfjs| over all elements and images. */
  maxAbsDiff: number;
  /** Largest |tfjs| value, to judge the difference against the output's scale. */
  maxAbsValue: number;
}

export interface EquivalenceReport {
  model: string;
  images: string[];
  outputs: Record<string, OutputComparison>;
  /** Raw outputs of the last image, for extra checks by the caller. */
  last: { onnx: Record<string, PlainTensor>; tfjs: Record<string, PlainTensor> };
}

export async function runOnnx(session: ort.InferenceSession, inputs: Record<string, PlainTensor>): Promise<Record<string, PlainTensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(inputs)) feeds[name] = new ort.Tensor(tensor.data instanceof Int32Array ? 'int32' : 'float32', tensor.data, tensor.dims);
  const results = await session.run(feeds);
  const out: Record<string, PlainTensor> = {};
  for (const [name, tensor] of Object.entries(results)) out[name] = { dims: [...tensor.dims], data: tensor.data as Float32Array | Int32Array };
  return out;
}

export function compareTensors(onnx: PlainTensor, tfjs: PlainTensor): OutputComparison {
  if (onnx.dims.join() !== tfjs.dims.join()) throw new Error(`shape [${onnx.dims}] differs from TF.js [${tfjs.dims}]`);
  let maxAbsDiff = 0;
  let maxAbsValue = 0;
  for (let i = 0; i < onnx.data.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(onnx.data[i]! - tfjs.data[i]!));
    maxAbsValue = Math.max(maxAbsValue, Math.abs(tfjs.data[i]!));
  }
  return { maxAbsDiff, maxAbsValue };
}

export async function checkEquivalence(entry: CatalogueEntry, onnxPathOrBytes: string | Uint8Array, images = entry.equivalenceImages): Promise<EquivalenceReport> {
  const session = typeof onnxPathOrBytes === 'string' ? await ort.InferenceSession.create(onnxPathOrBytes) : await ort.InferenceSession.create(onnxPathOrBytes);
  const model = await loadTfjsModel(join(TFJS_DIR, entry.tfjsFile));
  const outputs: Record<string, OutputComparison> = {};
  let last: EquivalenceReport['last'] = { onnx: {}, tfjs: {} };
  try {
    for (const image of images) {
      const inputs = await entry.makeSample(join(IMAGES_DIR, image));
      const onnx = await runOnnx(session, inputs);
      const tfjs = await runTfjs(model, inputs, [...session.outputNames]);
      for (const name of session.outputNames) {
        const comparison = compareTensors(onnx[name]!, tfjs[name]!);
        const previous = outputs[name];
        outputs[name] = previous
          ? { maxAbsDiff: Math.max(previous.maxAbsDiff, comparison.maxAbsDiff), maxAbsValue: Math.max(previous.maxAbsValue, comparison.maxAbsValue) }
          : comparison;
      }
      last = { onnx, tfjs };
    }
  } finally {
    model.dispose();
    await session.release();
  }
  return { model: entry.name, images, outputs, last };
}
