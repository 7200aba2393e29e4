/** Element-wise TF ops: arithmetic with broadcasting, activations, comparisons, casts. */
import { ConversionError, type ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { onnxDataType } from '../onnx-writer.ts';
import { attrNumber, attrString, type TfNode } from '../tfjs-graph.ts';
import { broadcastShapes } from '../shapes.ts';
import type { DType } from '../tensor.ts';
import { emitActivation } from './activation.ts';

const BINARY: Record<string, string> = { Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', Equal: 'Equal' };

const TF_TO_DTYPE: Record<string, DType> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_INT64: 'int32', DT_BOOL: 'bool' };

export function convertBinary(ctx: ConversionContext, node: TfNode): void {
  const a = ctx.input(node, 0);
  const b = ctx.input(node, 1);
  const opType = BINARY[node.op]!;
  ctx.emit(opType, [ctx.use(a), ctx.use(b)], [node.name]);
  ctx.define(node.name, { onnx: node.name, dtype: opType === 'Equal' ? 'bool' : a.dtype, shape: broadcastShapes(a.shape, b.shape) });
}

export function convertActivation(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  emitActivation(ctx, node, node.op, ctx.use(x), { leakyAlpha: attrNumber(node, 'alpha', 0.2) }, node.name);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: x.shape });
}

export function convertSoftmax(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  // TF softmax runs over the last axis; so does ONNX Softmax from opset 13 with axis -1.
  ctx.emit('Softmax', [ctx.use(x)], [node.name], [attr.int('axis', -1)]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: x.shape });
}

export function convertIdentity(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  ctx.emit('Identity', [ctx.use(x)], [node.name]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: x.shape });
}

export function convertCast(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const dtype = TF_TO_DTYPE[attrString(node, 'DstT')];
  if (!dtype) throw new ConversionError(node, `cast to ${attrString(node, 'DstT')} is not supported`);
  ctx.emit('Cast', [ctx.use(x)], [node.name], [attr.int('to', onnxDataType(dtype))]);
  ctx.define(node.name, { onnx: node.name, dtype, shape: x.shape });
}

/** TF FloorDiv rounds toward -inf; ONNX integer Div truncates, so integers divide as doubles. */
export function convertFloorDiv(ctx: ConversionContext, node: TfNode): void {
  const a = ctx.input(node, 0);
  const b = ctx.input(node, 1);
  const shape = broadcastShapes(a.shape, b.shape);
  if (a.dtype === 'float32') {
    const quotient = ctx.fresh(`${node.name}/div`);
    ctx.emit('Div', [ctx.use(a), ctx.use(b)], [quotient]);
    ctx.emit('Floor', [quotient], [node.name]);
  } else {
    const double = onnxDataType('float64');
    const [da, db, quotient, floored] = ['a_f64', 'b_f64', 'div', 'floor'].map((suffix) => ctx.fresh(`${node.name}/${suffix}`)) as [string, string, string, string];
    ctx.emit('Cast', [ctx.use(a)], [da], [attr.int('to', double)]);
    ctx.emit('Cast', [ctx.use(b)], [db], [attr.int('to', double)]);
    ctx.emit('Div', [da, db], [quotient]);
    ctx.emit('Floor', [quotient], [floored]);
    ctx.emit('Cast', [floored], [node.name], [attr.int('to', onnxDataType(a.dtype))]);
  }
  ctx.define(node.name, { onnx: node.name, dtype: a.dtype, shape });
}

/** TF FloorMod takes the sign of the divisor: ONNX integer Mod with fmod=0 does the same. */
export function convertFloorMod(ctx: ConversionContext, node: TfNode): void {
  const a = ctx.input(node, 0);
  const b = ctx.input(node, 1);
  if (a.dtype === 'float32') throw new ConversionError(node, 'float FloorMod is not supported');
  ctx.emit('Mod', [ctx.use(a), ctx.use(b)], [node.name], [attr.int('fmod', 0)]);
  ctx.define(node.name, { onnx: node.name, dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) });
}
