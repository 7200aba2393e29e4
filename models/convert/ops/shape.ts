/** Ops that move data without arithmetic: Reshape, Transpose, ConcatV2, ExpandDims, Pad, SplitV, StridedSlice. */
import { ConversionError, outputRef, type ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { attrNumber, type TfNode } from '../tfjs-graph.ts';
import { normalizeAxis, resolveReshape, stridedSliceAxes } from '../shapes.ts';
import { readNumber, toNumbers } from '../tensor.ts';

export function convertReshape(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const target = toNumbers(ctx.constInput(node, 1, 'shape'));
  const shape = resolveReshape(x.shape, target);
  // With an open batch, a target that keeps dimension 0 copies it (ONNX 0 = "as the input").
  const onnxTarget = ctx.batchVariable && target[0] === x.shape[0] ? [0, ...target.slice(1)] : target;
  ctx.emit('Reshape', [ctx.use(x), ctx.int64Constant(`${node.name}/shape`, onnxTarget)], [node.name]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape });
}

export function convertTranspose(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const perm = toNumbers(ctx.constInput(node, 1, 'perm'));
  ctx.emit('Transpose', [ctx.use(x)], [node.name], [attr.ints('perm', perm)]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: perm.map((axis) => x.shape[axis]!) });
}

export function convertConcat(ctx: ConversionContext, node: TfNode): void {
  const parts = node.inputs.slice(0, -1).map((_, index) => ctx.input(node, index));
  const first = parts[0]!;
  const axis = normalizeAxis(readNumber(ctx.constInput(node, node.inputs.length - 1, 'axis'), 0), first.shape.length);
  const shape = [...first.shape];
  shape[axis] = parts.reduce((total, part) => total + part.shape[axis]!, 0);
  ctx.emit('Concat', parts.map((part) => ctx.use(part)), [node.name], [attr.int('axis', axis)]);
  ctx.define(node.name, { onnx: node.name, dtype: first.dtype, shape });
}

export function convertExpandDims(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const axis = normalizeAxis(readNumber(ctx.constInput(node, 1, 'dim'), 0), x.shape.length + 1);
  const shape = [...x.shape];
  shape.splice(axis, 0, 1);
  ctx.emit('Unsqueeze', [ctx.use(x), ctx.int64Constant(`${node.name}/axes`, [axis])], [node.name]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape });
}

/** Pad and PadV2: TF paddings [rank, 2] become ONNX pads [begin..., end...]. */
export function convertPad(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const paddings = toNumbers(ctx.constInput(node, 1, 'paddings'));
  const rank = x.shape.length;
  const begins = Array.from({ length: rank }, (_, axis) => paddings[2 * axis]!);
  const ends = Array.from({ length: rank }, (_, axis) => paddings[2 * axis + 1]!);
  const inputs = [ctx.use(x), ctx.int64Constant(`${node.name}/pads`, [...begins, ...ends])];
  if (node.op === 'PadV2') inputs.push(ctx.use(ctx.input(node, 2)));
  ctx.emit('Pad', inputs, [node.name], [attr.string('mode', 'constant')]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: x.shape.map((dim, axis) => dim + begins[axis]! + ends[axis]!) });
}

export function convertSplitV(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const axis = normalizeAxis(readNumber(ctx.constInput(node, 2, 'split_dim'), 0), x.shape.length);
  const sizes = toNumbers(ctx.constInput(node, 1, 'size_splits'));
  const known = sizes.filter((size) => size !== -1).reduce((a, b) => a + b, 0);
  const resolved = sizes.map((size) => (size === -1 ? x.shape[axis]! - known : size));
  if (attrNumber(node, 'num_split', resolved.length) !== resolved.length) throw new ConversionError(node, 'num_split does not match size_splits');
  const outputs = resolved.map((_, index) => outputRef(node, index));
  ctx.emit('Split', [ctx.use(x), ctx.int64Constant(`${node.name}/split`, resolved)], outputs, [attr.int('axis', axis)]);
  resolved.forEach((size, index) => {
    const shape = [...x.shape];
    shape[axis] = size;
    ctx.define(outputs[index]!, { onnx: outputs[index]!, dtype: x.dtype, shape });
  });
}

export function convertStridedSlice(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  if (attrNumber(node, 'ellipsis_mask') || attrNumber(node, 'new_axis_mask')) throw new ConversionError(node, 'ellipsis/new-axis masks are not supported');
  const shrinkMask = attrNumber(node, 'shrink_axis_mask');
  const axes = stridedSliceAxes(
    x.shape,
    toNumbers(ctx.constInput(node, 1, 'begin')),
    toNumbers(ctx.constInput(node, 2, 'end')),
    toNumbers(ctx.constInput(node, 3, 'strides')),
    attrNumber(node, 'begin_mask'),
    attrNumber(node, 'end_mask'),
    shrinkMask,
  );
  // ONNX Slice: an end of -1 with a negative step would mean "the last element", so a slice
  // that runs to the front gets the most negative int32 instead (clamped by Slice).
  const ends = axes.map((axis) => (axis.end === -1 && axis.step < 0 ? -(2 ** 31) : axis.end));
  const shrunk = axes.map((_, axis) => axis).filter((axis) => shrinkMask & (1 << axis));
  const sliced = shrunk.length ? ctx.fresh(`${node.name}/slice`) : node.name;
  ctx.emit('Slice', [
    ctx.use(x),
    ctx.int64Constant(`${node.name}/starts`, axes.map((axis) => axis.start)),
    ctx.int64Constant(`${node.name}/ends`, ends),
    ctx.int64Constant(`${node.name}/axes`, axes.map((_, axis) => axis)),
    ctx.int64Constant(`${node.name}/steps`, axes.map((axis) => axis.step)),
  ], [sliced]);
  if (shrunk.length) ctx.emit('Squeeze', [sliced, ctx.int64Constant(`${node.name}/squeeze_axes`, shrunk)], [node.name]);
  const shape = axes.map((axis) => axis.size).filter((_, axis) => !(shrinkMask & (1 << axis)));
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape });
}
