/**
 * Moves layout-free ops to the NCHW side of the Transposes the converter wraps around each
 * convolution. An op whose tensor inputs are all NHWC views (Transpose perm 0,2,3,1 of an NCHW
 * tensor) runs on the NCHW tensors instead, and its result gets the NHWC view; the views and
 * the NHWC->NCHW Transposes of the next convolution then cancel (optimize.ts), so the graph
 * stays NCHW from one convolution to the next. The sunk node keeps its name with "/nchw"
 * added; its view keeps the TF name. Values are unchanged: the ops are element-wise (other
 * operands scalars), Concat over the channel axis, or Resize with sizes/scales permuted.
 */
import { attr, type OnnxGraph, type OnnxNode } from './onnx-ir.ts';
import { NCHW_TO_NHWC, NHWC_TO_NCHW } from './ops/layout.ts';
import { fromNumbers, toNumbers } from './tensor.ts';

const ELEMENTWISE = new Set(['Relu', 'Sigmoid', 'LeakyRelu', 'Clip', 'Add', 'Sub', 'Mul']);

/** Suffix of a sunk node's NCHW output. */
export const SUNK_SUFFIX = '/nchw';

export function sinkTransposes(graph: OnnxGraph): void {
  const producer = new Map<string, OnnxNode>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output, node);
  const nchwSource = (name: string): string | undefined => {
    const node = producer.get(name);
    const perm = node?.opType === 'Transpose' ? node.attributes.find((attribute) => attribute.name === 'perm') : undefined;
    return perm?.kind === 'ints' && perm.value.join() === NCHW_TO_NHWC.join() ? node!.inputs[0] : undefined;
  };
  const isScalar = (name: string): boolean => graph.initializers.get(name)?.data.length === 1;

  const result: OnnxNode[] = [];
  for (const node of graph.nodes) {
    result.push(node);
    const isTensor = (input: string, position: number): boolean => input !== '' && !isScalar(input) && !(node.opType === 'Resize' && position > 0);
    const tensors = node.inputs.filter(isTensor);
    if (tensors.length === 0 || node.outputs.length !== 1 || tensors.some((input) => nchwSource(input) === undefined)) continue;
    let inputs = node.inputs.map((input, position) => (isTensor(input, position) ? nchwSource(input)! : input));
    let attributes = node.attributes;
    if (node.opType === 'Concat') {
      const axis = node.attributes.find((attribute) => attribute.name === 'axis');
      if (axis?.kind !== 'int' || (axis.value !== 3 && axis.value !== -1)) continue;
      attributes = node.attributes.map((attribute) => (attribute === axis ? attr.int('axis', 1) : attribute));
    } else if (node.opType === 'Resize') {
      // Resize(X, roi, scales[, sizes]): exactly one of scales (input 2) and sizes (input 3), 4 values.
      const position = node.inputs[3] ? 3 : 2;
      const given = graph.initializers.get(node.inputs[position] ?? '');
      if (node.inputs[1] || !given || given.data.length !== 4 || (position === 3 && node.inputs[2])) continue;
      const values = toNumbers(given);
      const permuted = `${node.outputs[0]!}/${position === 2 ? 'scales' : 'sizes'}${SUNK_SUFFIX}`;
      graph.initializers.set(permuted, fromNumbers(given.dtype, given.shape, NHWC_TO_NCHW.map((axis) => values[axis]!)));
      inputs = inputs.map((input, index) => (index === position ? permuted : input));
    } else if (!ELEMENTWISE.has(node.opType)) {
      continue;
    }
    const output = node.outputs[0]!;
    const nchw = `${output}${SUNK_SUFFIX}`;
    Object.assign(node, { name: nchw, inputs, outputs: [nchw], attributes });
    const view: OnnxNode = { name: output, opType: 'Transpose', inputs: [nchw], outputs: [output], attributes: [attr.ints('perm', NCHW_TO_NHWC)] };
    producer.set(nchw, node);
    producer.set(output, view);
    result.push(view);
  }
  graph.nodes = result;
}
