/**
 * Rewrites on the TF graph before mapping. nanodet (converted ONNX -> TF by onnx-tf) adds
 * each convolution's bias with a separate Add of a constant vector; folding it into the
 * convolution as a fused BiasAdd gives ONNX Conv its bias and lets the NCHW<->NHWC transposes
 * around consecutive convolutions cancel. Arithmetic is unchanged: conv, then + bias.
 */
import type { TfGraph, TfNode } from './tfjs-graph.ts';

export function fuseConvBias(graph: TfGraph): TfGraph {
  const consumers = new Map<string, number>();
  for (const node of graph.nodes) for (const ref of node.inputs) consumers.set(ref, (consumers.get(ref) ?? 0) + 1);
  const byName = new Map(graph.nodes.map((node) => [node.name, node]));
  const replaced = new Map<string, TfNode>();
  const removed = new Set<string>();

  for (const node of graph.nodes) {
    if (node.op !== 'Add' && node.op !== 'AddV2') continue;
    const [convRef, biasRef] = node.inputs as [string, string];
    const conv = byName.get(convRef);
    const bias = graph.weights.get(biasRef);
    const filter = conv ? graph.weights.get(conv.inputs[1] ?? '') : undefined;
    if (!conv || conv.op !== 'Conv2D' || !bias || !filter || consumers.get(convRef) !== 1) continue;
    if (bias.shape.length !== 1 || bias.shape[0] !== filter.shape[3]) continue;
    // The Add takes the conv's place under the Add's name, so every consumer stays wired.
    replaced.set(node.name, { ...conv, name: node.name, op: '_FusedConv2D', inputs: [...conv.inputs, biasRef], attrs: { ...conv.attrs, fused_ops: ['BiasAdd'], num_args: 1 } });
    removed.add(conv.name);
  }
  const nodes = graph.nodes.filter((node) => !removed.has(node.name)).map((node) => replaced.get(node.name) ?? node);
  return { ...graph, nodes };
}
