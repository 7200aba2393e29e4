/**
 * Runs an original TF.js graph model from the local json + bin files on the CPU backend
 * (no fetch, no network): the reference the converted ONNX models are checked against.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';

export interface PlainTensor {
  dims: number[];
  data: Float32Array | Int32Array;
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

function localHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as ModelJson;
      const shards = json.weightsManifest.flatMap((group) => group.paths.map((path) => readFileSync(join(dirname(modelJsonPath), path))));
      const weightData = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature as Record<string, unknown> | undefined,
        userDefinedMetadata: json.userDefinedMetadata,
      } as tf.io.ModelArtifacts;
    },
  };
}

let backendReady: Promise<boolean> | undefined;

export async function loadTfjsModel(modelJsonPath: string): Promise<GraphModel> {
  backendReady ??= tf.setBackend('cpu');
  await backendReady;
  return loadGraphModel(localHandler(modelJsonPath));
}

/** Runs the model; `outputs` are TF tensor names (node or node:k). */
export async function runTfjs(model: GraphModel, inputs: Record<string, PlainTensor>, outputs: string[]): Promise<Record<string, PlainTensor>> {
  const feeds: Record<string, tf.Tensor> = {};
  for (const [name, tensor] of Object.entries(inputs)) feeds[name] = tf.tensor(tensor.data, tensor.dims, tensor.data instanceof Int32Array ? 'int32' : 'float32');
  const results = (model.execute(feeds, outputs)) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(results) ? results : [results];
  const out: Record<string, PlainTensor> = {};
  for (const [index, tensor] of list.entries()) {
    out[outputs[index]!] = { dims: tensor.shape, data: (await tensor.data()) as Float32Array | Int32Array };
    tensor.dispose();
  }
  Object.values(feeds).forEach((tensor) => tensor.dispose());
  return out;
}
