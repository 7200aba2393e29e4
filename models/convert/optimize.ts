/**
 * Clean-up passes over the built ONNX graph:
 *  - a Transpose fed by a Transpose becomes one Transpose, or nothing when the two cancel
 *    (the NCHW->NHWC->NCHW pairs between consecutive convolutions);
 *  - ort-rewrites.ts re-expresses patterns that would break onnxruntime's blocked conv layout
 *    (they work in NCHW), then Transposes are merged again;
 *  - sink-transposes.ts moves the layout-free ops between convolutions to NCHW, Transposes
 *    are merged again and the rewrites that need that form run;
 *  - nodes whose outputs nobody reads are dropped, then initializers nobody reads.
 * Graph outputs keep their names.
 */
import { attr, type OnnxGraph, type OnnxNode } from './onnx-ir.ts';
import { rewriteForOnnxruntime, rewriteSunkForOnnxruntime, type ShapeLookup } from './ort-rewrites.ts';
import { sinkTransposes } from './sink-transposes.ts';

function permOf(node: OnnxNode): number[] {
  const perm = node.attributes.find((attribute) => attribute.name === 'perm');
  return perm?.kind === 'ints' ? perm.value : [];
}

const isIdentityPerm = (perm: readonly number[]): boolean => perm.every((axis, index) => axis === index);

function mergeTransposes(graph: OnnxGraph): void {
  const producer = new Map<string, OnnxNode>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output, node);
  const graphOutputs = new Set(graph.outputs.map((output) => output.name));
  const renames = new Map<string, string>();
  const resolve = (name: string): string => renames.get(name) ?? name;

  for (const node of graph.nodes) {
    node.inputs = node.inputs.map(resolve);
    if (node.opType !== 'Transpose') continue;
    const previous = producer.get(node.inputs[0]!);
    if (previous?.opType !== 'Transpose') continue;
    const outer = permOf(node);
    const inner = permOf(previous);
    const combined = outer.map((axis) => inner[axis]!);
    const source = previous.inputs[0]!;
    const output = node.outputs[0]!;
    if (isIdentityPerm(combined) && !graphOutputs.has(output)) {
      renames.set(output, source);
      node.opType = 'Dropped';
    } else if (isIdentityPerm(combined)) {
      Object.assign(node, { opType: 'Identity', inputs: [source], attributes: [] });
    } else {
      Object.assign(node, { inputs: [source], attributes: [attr.ints('perm', combined)] });
    }
  }
  graph.nodes = graph.nodes.filter((node) => node.opType !== 'Dropped');
}

function removeDeadNodes(graph: OnnxGraph): void {
  const live = new Set(graph.outputs.map((output) => output.name));
  const kept: OnnxNode[] = [];
  for (let index = graph.nodes.length - 1; index >= 0; index--) {
    const node = graph.nodes[index]!;
    if (!node.outputs.some((output) => live.has(output))) continue;
    kept.push(node);
    for (const input of node.inputs) if (input) live.add(input);
  }
  graph.nodes = kept.reverse();
  for (const name of [...graph.initializers.keys()]) if (!live.has(name)) graph.initializers.delete(name);
}

/** `shapeOf` gives the static shapes the converter knows (the rewrites need some). */
export function optimizeGraph(graph: OnnxGraph, shapeOf: ShapeLookup = () => undefined): void {
  mergeTransposes(graph);
  removeDeadNodes(graph);
  rewriteForOnnxruntime(graph, shapeOf);
  mergeTransposes(graph);
  removeDeadNodes(graph);
  sinkTransposes(graph);
  mergeTransposes(graph);
  removeDeadNodes(graph);
  rewriteSunkForOnnxruntime(graph, shapeOf);
  mergeTransposes(graph);
  removeDeadNodes(graph);
}
