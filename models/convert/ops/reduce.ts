/** Mean (TF) as ReduceMean (ONNX opset 13: axes as an attribute). */
import type { ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { attrBool, type TfNode } from '../tfjs-graph.ts';
import { normalizeAxis } from '../shapes.ts';
import { toNumbers } from '../tensor.ts';

export function convertMean(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const axes = toNumbers(ctx.constInput(node, 1, 'reduction_indices')).map((axis) => normalizeAxis(axis, x.shape.length)).sort();
  const keepDims = attrBool(node, 'keep_dims');
  ctx.emit('ReduceMean', [ctx.use(x)], [node.name], [attr.ints('axes', axes), attr.int('keepdims', keepDims ? 1 : 0)]);
  const shape = keepDims ? x.shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim)) : x.shape.filter((_, axis) => !axes.includes(axis));
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape });
}
