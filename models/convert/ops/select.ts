/** Ops that pick elements: GatherV2 and TopKV2. */
import { ConversionError, outputRef, type ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { onnxDataType } from '../onnx-writer.ts';
import { attrBool, attrNumber, type TfNode } from '../tfjs-graph.ts';
import { normalizeAxis } from '../shapes.ts';
import { readNumber } from '../tensor.ts';

export function convertGather(ctx: ConversionContext, node: TfNode): void {
  const params = ctx.input(node, 0);
  const indices = ctx.input(node, 1);
  if (attrNumber(node, 'batch_dims')) throw new ConversionError(node, 'batch_dims is not supported');
  const axis = normalizeAxis(readNumber(ctx.constInput(node, 2, 'axis'), 0), params.shape.length);
  ctx.emit('Gather', [ctx.use(params), ctx.use(indices)], [node.name], [attr.int('axis', axis)]);
  const shape = [...params.shape.slice(0, axis), ...indices.shape, ...params.shape.slice(axis + 1)];
  ctx.define(node.name, { onnx: node.name, dtype: params.dtype, shape });
}

/** TF TopKV2 works on the last axis, returns sorted values and int32 indices (ONNX: int64). */
export function convertTopK(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const k = readNumber(ctx.constInput(node, 1, 'k'), 0);
  if (!attrBool(node, 'sorted', true)) throw new ConversionError(node, 'unsorted TopK is not supported');
  const indices = outputRef(node, 1);
  const indices64 = ctx.fresh(`${indices}/int64`);
  ctx.emit('TopK', [ctx.use(x), ctx.int64Constant(`${node.name}/k`, [k])], [node.name, indices64], [
    attr.int('axis', -1),
    attr.int('largest', 1),
    attr.int('sorted', 1),
  ]);
  ctx.emit('Cast', [indices64], [indices], [attr.int('to', onnxDataType('int32'))]);
  const shape = [...x.shape.slice(0, -1), k];
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape });
  ctx.define(indices, { onnx: indices, dtype: 'int32', shape });
}
