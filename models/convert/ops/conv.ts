/**
 * Conv2D, _FusedConv2D, DepthwiseConv2dNative and FusedDepthwiseConv2dNative (NHWC, TF
 * weights [kh, kw, in, out|multiplier]) as ONNX Conv (NCHW, weights [out, in/group, kh, kw]),
 * with the fused BiasAdd as Conv's bias and the fused activation right after the Conv.
 */
import { ConversionError, type ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { attrInts, attrNumber, attrString, attrStrings, type TfNode } from '../tfjs-graph.ts';
import { windowAxis } from '../shapes.ts';
import { transposeConst, type ConstTensor } from '../tensor.ts';
import { toNchw, toNhwc } from './layout.ts';
import { emitActivation } from './activation.ts';

/** [kh, kw, cin, cout] -> [cout, cin, kh, kw]. */
function convWeights(weights: ConstTensor): ConstTensor {
  return transposeConst(weights, [3, 2, 0, 1]);
}

/** [kh, kw, cin, m] -> [cin*m, 1, kh, kw]: TF's output channel c*m + k is ONNX group c, filter k. */
function depthwiseWeights(weights: ConstTensor): ConstTensor {
  const [kh, kw, cin, multiplier] = weights.shape as [number, number, number, number];
  const moved = transposeConst(weights, [2, 3, 0, 1]);
  return { ...moved, shape: [cin * multiplier, 1, kh, kw] };
}

export function convertConv(ctx: ConversionContext, node: TfNode): void {
  const depthwise = node.op.includes('Depthwise');
  const x = ctx.input(node, 0);
  const weights = ctx.constInput(node, 1, 'filter');
  if (x.shape.length !== 4) throw new ConversionError(node, `input rank ${x.shape.length}, want 4 (NHWC)`);
  if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new ConversionError(node, 'only NHWC is supported');
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const [kh, kw, cin, cout] = weights.shape as [number, number, number, number];
  const strides = attrInts(node, 'strides', [1, 1, 1, 1]);
  const dilations = attrInts(node, 'dilations', [1, 1, 1, 1]);
  const padding = attrString(node, 'padding', 'VALID');
  const explicit = attrInts(node, 'explicit_paddings');
  const rows = windowAxis(height, kh, strides[1]!, dilations[1]!, padding, [explicit[2] ?? 0, explicit[3] ?? 0]);
  const cols = windowAxis(width, kw, strides[2]!, dilations[2]!, padding, [explicit[4] ?? 0, explicit[5] ?? 0]);
  const group = depthwise ? channels : 1;
  const outChannels = depthwise ? cin * cout : cout;
  if (!depthwise && cin !== channels) throw new ConversionError(node, `filter expects ${cin} channels, input has ${channels}`);

  const fusedOps = attrStrings(node, 'fused_ops');
  const inputs = [toNchw(ctx, ctx.use(x), node.name), ctx.constant(`${node.name}/weights_oihw`, depthwise ? depthwiseWeights(weights) : convWeights(weights))];
  let rest = fusedOps;
  if (fusedOps[0] === 'BiasAdd') {
    inputs.push(ctx.use(ctx.input(node, 2)));
    rest = fusedOps.slice(1);
  } else if (fusedOps.length > 0) {
    throw new ConversionError(node, `fused ops ${fusedOps.join('+')} are not supported`);
  }
  let output = ctx.fresh(`${node.name}/conv_nchw`);
  ctx.emit('Conv', inputs, [output], [
    attr.ints('kernel_shape', [kh, kw]),
    attr.ints('strides', [strides[1]!, strides[2]!]),
    attr.ints('dilations', [dilations[1]!, dilations[2]!]),
    attr.ints('pads', [rows.padBefore, cols.padBefore, rows.padAfter, cols.padAfter]),
    attr.int('group', group),
  ]);
  for (const activation of rest) {
    const alphaInput = activation === 'Prelu' ? ctx.input(node, 3) : undefined;
    output = emitActivation(ctx, node, activation, output, {
      leakyAlpha: attrNumber(node, 'leakyrelu_alpha', 0.2),
      // In NCHW the per-channel PReLU slope must broadcast over H and W.
      preluSlope: alphaInput?.value ? { ...alphaInput.value, shape: [alphaInput.value.data.length, 1, 1] } : undefined,
    });
  }
  toNhwc(ctx, output, node.name);
  ctx.define(node.name, { onnx: node.name, dtype: 'float32', shape: [batch, rows.out, cols.out, outChannels] });
}

export function convertMaxPool(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  if (attrString(node, 'data_format', 'NHWC') !== 'NHWC') throw new ConversionError(node, 'only NHWC is supported');
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const ksize = attrInts(node, 'ksize');
  const strides = attrInts(node, 'strides', [1, 1, 1, 1]);
  const padding = attrString(node, 'padding', 'VALID');
  const rows = windowAxis(height, ksize[1]!, strides[1]!, 1, padding);
  const cols = windowAxis(width, ksize[2]!, strides[2]!, 1, padding);
  const pooled = ctx.fresh(`${node.name}/pool_nchw`);
  // ONNX MaxPool ignores padded cells, as TF's SAME max pooling does.
  ctx.emit('MaxPool', [toNchw(ctx, ctx.use(x), node.name)], [pooled], [
    attr.ints('kernel_shape', [ksize[1]!, ksize[2]!]),
    attr.ints('strides', [strides[1]!, strides[2]!]),
    attr.ints('pads', [rows.padBefore, cols.padBefore, rows.padAfter, cols.padAfter]),
  ]);
  toNhwc(ctx, pooled, node.name);
  ctx.define(node.name, { onnx: node.name, dtype: 'float32', shape: [batch, rows.out, cols.out, channels] });
}
