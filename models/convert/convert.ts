/**
 * TF.js graph -> ONNX model: walks the TF nodes in dependency order, folds what is constant,
 * maps the rest through OP_MAPPERS, then cleans up and encodes. Deterministic: the same
 * model.json and weights give the same bytes.
 */
import { createHash } from 'node:crypto';
import { ConversionContext, ConversionError, outputRef } from './context.ts';
import { foldConstant } from './const-eval.ts';
import type { OnnxModel, OnnxValueInfo } from './onnx-ir.ts';
import { encodeModel } from './onnx-writer.ts';
import { OP_MAPPERS } from './ops/index.ts';
import { optimizeGraph } from './optimize.ts';
import { compactWeights } from './compact-weights.ts';
import { readTfjsGraph, type TfGraph, type TfNode } from './tfjs-graph.ts';
import { fuseConvBias } from './tf-rewrites.ts';

export const OPSET = 13;
export const PRODUCER = 'mec-inference models/convert (TF.js graph -> ONNX)';
export const PRODUCER_VERSION = '1';
/** The symbolic name of an open batch dimension in the ONNX file. */
export const BATCH_DIM = 'batch';

export interface ConvertOptions {
  /** Graph name written into the ONNX file. */
  name: string;
  /** Leave dimension 0 of inputs and outputs open (the graph must not depend on it). */
  batchVariable: boolean;
  docString?: string;
}

export interface ConvertedModel {
  model: OnnxModel;
  bytes: Uint8Array;
  sha256: string;
}

/** Kahn's algorithm, ties broken by the order in model.json so the result is stable. */
function topologicalOrder(nodes: TfNode[]): TfNode[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const placed = new Set<string>();
  const ordered: TfNode[] = [];
  const visit = (node: TfNode, path: Set<string>): void => {
    if (placed.has(node.name)) return;
    if (path.has(node.name)) throw new ConversionError(node, 'cycle in graph');
    path.add(node.name);
    for (const ref of node.inputs) {
      const producer = byName.get(ref.replace(/:\d+$/, ''));
      if (producer) visit(producer, path);
    }
    path.delete(node.name);
    placed.add(node.name);
    ordered.push(node);
  };
  for (const node of nodes) visit(node, new Set());
  return ordered;
}

function convertNode(ctx: ConversionContext, graph: TfGraph, node: TfNode): void {
  if (node.op === 'Placeholder') return;
  if (node.op === 'Const') {
    const value = graph.weights.get(node.name);
    if (!value) throw new ConversionError(node, 'no weights for this constant');
    ctx.define(node.name, { onnx: node.name, dtype: value.dtype, shape: value.shape, value });
    return;
  }
  const inputs = node.inputs.map((ref) => ctx.info(ref));
  if (inputs.every((info) => info.value)) {
    const folded = foldConstant(node, inputs.map((info) => info.value!));
    if (folded) {
      folded.forEach((value, index) => {
        const ref = outputRef(node, index);
        ctx.define(ref, { onnx: ref, dtype: value.dtype, shape: value.shape, value });
      });
      return;
    }
  }
  const mapper = OP_MAPPERS[node.op];
  if (!mapper) throw new ConversionError(node, 'op is not supported by the converter');
  mapper(ctx, node);
}

export function convertGraph(graph: TfGraph, options: ConvertOptions): OnnxModel {
  const ctx = new ConversionContext(options.batchVariable);
  const openDims = (shape: readonly number[]): (number | string)[] =>
    shape.map((dim, axis) => (axis === 0 && options.batchVariable ? BATCH_DIM : dim));

  const inputs: OnnxValueInfo[] = graph.placeholders.map((placeholder) => {
    if (placeholder.shape.slice(1).some((dim) => dim < 0)) throw new ConversionError(placeholder.name, 'only dimension 0 may be open');
    if (placeholder.shape[0]! < 0 && !options.batchVariable) throw new ConversionError(placeholder.name, 'open batch: convert with batchVariable');
    const shape = placeholder.shape.map((dim) => (dim < 0 ? 1 : dim));
    ctx.define(placeholder.name, { onnx: placeholder.name, dtype: placeholder.dtype, shape });
    return { name: placeholder.name, dtype: placeholder.dtype, dims: openDims(shape) };
  });

  for (const node of topologicalOrder(fuseConvBias(graph).nodes)) convertNode(ctx, graph, node);

  const outputs: OnnxValueInfo[] = graph.outputs.map((ref) => {
    const info = ctx.info(ref);
    if (info.onnx !== ref || info.value) throw new ConversionError(ref, 'graph output must be computed by a node');
    return { name: ref, dtype: info.dtype, dims: openDims(info.shape) };
  });

  const onnxGraph = { name: options.name, nodes: ctx.nodes, initializers: ctx.initializers, inputs, outputs };
  optimizeGraph(onnxGraph, (name) => (ctx.has(name) ? ctx.info(name).shape : undefined));
  compactWeights(onnxGraph);
  return {
    graph: onnxGraph,
    opset: OPSET,
    producerName: PRODUCER,
    producerVersion: PRODUCER_VERSION,
    docString: options.docString ?? '',
    metadata: [],
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function convertTfjsModel(modelJsonPath: string, options: ConvertOptions): ConvertedModel {
  const model = convertGraph(readTfjsGraph(modelJsonPath), options);
  const bytes = encodeModel(model);
  return { model, bytes, sha256: sha256Hex(bytes) };
}
