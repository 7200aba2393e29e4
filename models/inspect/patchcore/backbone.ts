/** Runs the PatchCore feature extractor (backbone.onnx) and lays its output out as one row per patch. */
import * as ort from 'onnxruntime-node';
import type { FrameTensor } from './frames.ts';

export interface PatchFeatures {
  /** [patches, dims] row-major; patch index = y * grid + x. */
  rows: Float32Array;
  patches: number;
  dims: number;
  grid: number;
}

/** One intra-op thread: the measurements are per core, and the other core belongs to the training job. */
export function openSession(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

export async function patchFeatures(session: ort.InferenceSession, frame: FrameTensor): Promise<PatchFeatures> {
  const input = new ort.Tensor('float32', frame.data, [1, 3, frame.height, frame.width]);
  const output = (await session.run({ image: input })).features!;
  const [, dims, height, width] = output.dims as [number, number, number, number];
  const planar = output.data as Float32Array;
  const patches = height * width;
  const rows = new Float32Array(patches * dims);
  for (let d = 0; d < dims; d++) {
    for (let p = 0; p < patches; p++) rows[p * dims + d] = planar[d * patches + p]!;
  }
  return { rows, patches, dims, grid: width };
}
