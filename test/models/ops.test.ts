/**
 * Op-level checks of the converter on small synthetic TF.js graphs, each run by TF.js
 * (CPU backend) and by onnxruntime on the converted ONNX: the semantics the four real models
 * do not all exercise (asymmetric SAME padding, explicit padding, depthwise multipliers,
 * fused PReLU/LeakyRelu/Relu6, the three ResizeBilinear modes, StridedSlice masks, negative
 * FloorDiv/FloorMod, PadV2).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { exactHalf } from '../../models/convert/compact-weights.ts';
import { convertTfjsModel } from '../../models/convert/convert.ts';
import { runOnnx } from '../../models/convert/equivalence.ts';
import type { OnnxGraph } from '../../models/convert/onnx-ir.ts';
import { windowAxis } from '../../models/convert/shapes.ts';
import { loadTfjsModel, runTfjs, type PlainTensor } from '../../models/convert/tfjs-runner.ts';

type Attr = Record<string, unknown>;
interface Node {
  name: string;
  op: string;
  inputs?: string[];
  attr?: Attr;
}
interface Weight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: number[];
}

const scratch = mkdtempSync(join(tmpdir(), 'convert-ops-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const s = (value: string): Attr => ({ s: Buffer.from(value).toString('base64') });
const ints = (values: number[]): Attr => ({ list: { i: values.map(String) } });
const strings = (values: string[]): Attr => ({ list: { s: values.map((value) => Buffer.from(value).toString('base64')) } });
const float = (): Attr => ({ type: 'DT_FLOAT' });

/** Deterministic pseudo-random values in [-1, 1). */
function values(count: number, seed: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

let modelCount = 0;

interface Comparison {
  /** Largest |onnx - tfjs| per output. */
  diffs: Record<string, number>;
  /** The converted ONNX graph. */
  graph: OnnxGraph;
}

/** Writes a TF.js graph model with one float input, runs TF.js and ONNX, returns the largest difference per output. */
async function compare(inputShape: number[], weights: Weight[], nodes: Node[], outputs: string[], input?: number[]): Promise<Comparison> {
  const dir = join(scratch, `m${modelCount++}`);
  mkdirSync(dir);
  const topology = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float(), shape: { shape: { dim: inputShape.map((size) => ({ size: String(size) })) } } } },
    ...weights.map((weight) => ({
      name: weight.name,
      op: 'Const',
      attr: { dtype: { type: weight.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' }, value: { tensor: { dtype: weight.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: weight.shape.map((size) => ({ size: String(size) })) } } } },
    })),
    ...nodes.map((node) => ({ name: node.name, op: node.op, input: node.inputs ?? [], attr: { T: float(), ...node.attr } })),
  ];
  const bin = Buffer.concat(weights.map((weight) => Buffer.from((weight.dtype === 'int32' ? Int32Array.from(weight.values) : Float32Array.from(weight.values)).buffer)));
  const signature = { inputs: { 'x:0': { name: 'x:0' } }, outputs: Object.fromEntries(outputs.map((name) => [`${name}:0`, { name: `${name}:0` }])) };
  const json = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'test',
    signature,
    modelTopology: { node: topology, library: {}, versions: {} },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'weights.bin'), bin);

  const count = inputShape.reduce((a, b) => a * b, 1);
  const feed: Record<string, PlainTensor> = { x: { dims: inputShape, data: Float32Array.from(input ?? values(count, 7).map((v) => v * 4)) } };
  const converted = convertTfjsModel(join(dir, 'model.json'), { name: 'ops', batchVariable: false });
  const session = await ort.InferenceSession.create(converted.bytes);
  const onnx = await runOnnx(session, feed);
  await session.release();
  const tfjs = await runTfjs(await loadTfjsModel(join(dir, 'model.json')), feed, outputs);
  const diffs: Record<string, number> = {};
  for (const name of outputs) {
    expect(onnx[name]!.dims, name).toEqual(tfjs[name]!.dims);
    const [a, b] = [onnx[name]!.data, tfjs[name]!.data];
    diffs[name] = 0;
    for (let index = 0; index < a.length; index++) diffs[name] = Math.max(diffs[name]!, Math.abs(a[index]! - b[index]!));
  }
  return { diffs, graph: converted.model.graph };
}

const conv = (name: string, op: string, input: string, filter: string, attr: Attr, extra: string[] = []): Node => ({
  name,
  op,
  inputs: [input, filter, ...extra],
  attr: { strides: ints([1, 2, 2, 1]), dilations: ints([1, 1, 1, 1]), data_format: s('NHWC'), ...attr },
});

describe('converter shape rules', () => {
  it('TF SAME padding puts the odd pixel after: even input, stride 2, kernel 3 pads 0 before, 1 after', () => {
    expect(windowAxis(8, 3, 2, 1, 'SAME')).toEqual({ out: 4, padBefore: 0, padAfter: 1 });
    expect(windowAxis(7, 3, 2, 1, 'SAME')).toEqual({ out: 4, padBefore: 1, padAfter: 1 });
    expect(windowAxis(7, 3, 2, 1, 'VALID')).toEqual({ out: 3, padBefore: 0, padAfter: 0 });
  });

  it('float16 storage only takes values that survive the round trip exactly', () => {
    expect(exactHalf(1)).toBe(0x3c00);
    expect(exactHalf(-2)).toBe(0xc000);
    expect(exactHalf(2 ** -24)).toBe(1);
    expect(exactHalf(0.1)).toBeUndefined();
    expect(exactHalf(70000)).toBeUndefined();
  });
});

describe('ops: TF.js vs converted ONNX on synthetic graphs', () => {
  it('convolutions: asymmetric SAME, explicit padding, depthwise multiplier 2, fused Relu6/LeakyRelu/Prelu', async () => {
    const weights: Weight[] = [
      { name: 'w', shape: [3, 3, 3, 4], dtype: 'float32', values: values(108, 1) },
      { name: 'b', shape: [4], dtype: 'float32', values: values(4, 2) },
      { name: 'alpha', shape: [4], dtype: 'float32', values: values(4, 3) },
      { name: 'dw', shape: [3, 3, 4, 2], dtype: 'float32', values: values(72, 4) },
      { name: 'b8', shape: [8], dtype: 'float32', values: values(8, 5) },
    ];
    const { diffs } = await compare([1, 8, 8, 3], weights, [
      conv('same', '_FusedConv2D', 'x', 'w', { padding: s('SAME'), fused_ops: strings(['BiasAdd', 'Relu6']), num_args: { i: '1' } }, ['b']),
      conv('explicit', '_FusedConv2D', 'x', 'w', { padding: s('EXPLICIT'), explicit_paddings: ints([0, 0, 2, 0, 0, 1, 0, 0]), fused_ops: strings(['BiasAdd', 'Prelu']), num_args: { i: '2' } }, ['b', 'alpha']),
      conv('leaky', '_FusedConv2D', 'x', 'w', { padding: s('VALID'), fused_ops: strings(['BiasAdd', 'LeakyRelu']), num_args: { i: '1' }, leakyrelu_alpha: { f: 0.3 } }, ['b']),
      conv('depthwise', 'FusedDepthwiseConv2dNative', 'same', 'dw', { padding: s('SAME'), fused_ops: strings(['BiasAdd', 'Relu']), num_args: { i: '1' } }, ['b8']),
      { name: 'pool', op: 'MaxPool', inputs: ['depthwise'], attr: { ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: s('SAME'), data_format: s('NHWC') } },
    ], ['same', 'explicit', 'leaky', 'depthwise', 'pool']);
    for (const [name, diff] of Object.entries(diffs)) expect(diff, name).toBeLessThanOrEqual(1e-5);
  });

  it('ResizeBilinear: asymmetric, half_pixel_centers and align_corners, up 5->7 and down 5->3', async () => {
    const weights: Weight[] = [
      { name: 'up', shape: [2], dtype: 'int32', values: [7, 7] },
      { name: 'down', shape: [2], dtype: 'int32', values: [3, 2] },
    ];
    const resize = (name: string, size: string, alignCorners: boolean, halfPixel: boolean): Node => ({
      name,
      op: 'ResizeBilinear',
      inputs: ['x', size],
      attr: { align_corners: { b: alignCorners }, half_pixel_centers: { b: halfPixel } },
    });
    const { diffs } = await compare([1, 5, 5, 2], weights, [
      resize('asym_up', 'up', false, false),
      resize('half_up', 'up', false, true),
      resize('align_up', 'up', true, false),
      resize('asym_down', 'down', false, false),
      resize('half_down', 'down', false, true),
      resize('align_down', 'down', true, false),
    ], ['asym_up', 'half_up', 'align_up', 'asym_down', 'half_down', 'align_down']);
    for (const [name, diff] of Object.entries(diffs)) expect(diff, name).toBeLessThanOrEqual(1e-5);
  });

  it('StridedSlice masks and negative strides, FloorDiv/FloorMod on negative integers, PadV2, SplitV, Mean', async () => {
    const weights: Weight[] = [
      { name: 'begin', shape: [3], dtype: 'int32', values: [0, -1, 1] },
      { name: 'end', shape: [3], dtype: 'int32', values: [1, 0, 3] },
      { name: 'strides', shape: [3], dtype: 'int32', values: [1, -2, 1] },
      { name: 'begin2', shape: [3], dtype: 'int32', values: [0, 2, 0] },
      { name: 'end2', shape: [3], dtype: 'int32', values: [0, 3, 0] },
      { name: 'one', shape: [3], dtype: 'int32', values: [1, 1, 1] },
      { name: 'three', shape: [], dtype: 'int32', values: [3] },
      { name: 'minus3', shape: [], dtype: 'int32', values: [-3] },
      { name: 'paddings', shape: [3, 2], dtype: 'int32', values: [0, 0, 1, 2, 0, 1] },
      { name: 'pad_value', shape: [], dtype: 'float32', values: [-5] },
      { name: 'sizes', shape: [2], dtype: 'int32', values: [1, -1] },
      { name: 'axis2', shape: [], dtype: 'int32', values: [2] },
      { name: 'axes', shape: [1], dtype: 'int32', values: [1] },
    ];
    const cast = (name: string, input: string, to: string): Node => ({ name, op: 'Cast', inputs: [input], attr: { SrcT: float(), DstT: { type: to }, Truncate: { b: false } } });
    const intOp = (name: string, op: string, a: string, b: string): Node => ({ name, op, inputs: [a, b], attr: { T: { type: 'DT_INT32' } } });
    const { diffs } = await compare([1, 6, 3], weights, [
      { name: 'reverse', op: 'StridedSlice', inputs: ['x', 'begin', 'end', 'strides'], attr: { Index: { type: 'DT_INT32' }, begin_mask: { i: '4' }, end_mask: { i: '6' }, shrink_axis_mask: { i: '0' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' } } },
      { name: 'row', op: 'StridedSlice', inputs: ['x', 'begin2', 'end2', 'one'], attr: { Index: { type: 'DT_INT32' }, begin_mask: { i: '5' }, end_mask: { i: '5' }, shrink_axis_mask: { i: '2' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' } } },
      cast('xi', 'x', 'DT_INT32'),
      intOp('div_pos', 'FloorDiv', 'xi', 'three'),
      intOp('div_neg', 'FloorDiv', 'xi', 'minus3'),
      intOp('mod_pos', 'FloorMod', 'xi', 'three'),
      intOp('mod_neg', 'FloorMod', 'xi', 'minus3'),
      { ...cast('div_pos_f', 'div_pos', 'DT_FLOAT'), attr: { SrcT: { type: 'DT_INT32' }, DstT: float() } },
      { ...cast('div_neg_f', 'div_neg', 'DT_FLOAT'), attr: { SrcT: { type: 'DT_INT32' }, DstT: float() } },
      { ...cast('mod_pos_f', 'mod_pos', 'DT_FLOAT'), attr: { SrcT: { type: 'DT_INT32' }, DstT: float() } },
      { ...cast('mod_neg_f', 'mod_neg', 'DT_FLOAT'), attr: { SrcT: { type: 'DT_INT32' }, DstT: float() } },
      { name: 'padded', op: 'PadV2', inputs: ['x', 'paddings', 'pad_value'], attr: { Tpaddings: { type: 'DT_INT32' } } },
      { name: 'split', op: 'SplitV', inputs: ['x', 'sizes', 'axis2'], attr: { num_split: { i: '2' }, Tlen: { type: 'DT_INT32' } } },
      { name: 'split_rest', op: 'Identity', inputs: ['split:1'] },
      { name: 'mean', op: 'Mean', inputs: ['x', 'axes'], attr: { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } } },
    ], ['reverse', 'row', 'div_pos_f', 'div_neg_f', 'mod_pos_f', 'mod_neg_f', 'padded', 'split', 'split_rest', 'mean']);
    for (const [name, diff] of Object.entries(diffs)) expect(diff, name).toBeLessThanOrEqual(1e-6);
  });
});

describe('rewrites for onnxruntime\'s blocked layout (ort-rewrites.ts): same numbers, fewer layout breaks', () => {
  it('hard-swish, unaligned MaxPool shortcut, channel Pad, spatial Mean and Pad(-inf)+MaxPool are rewritten and agree with TF.js', async () => {
    const weights: Weight[] = [
      { name: 'w1', shape: [1, 1, 3, 24], dtype: 'float32', values: values(72, 11) },
      { name: 'b24', shape: [24], dtype: 'float32', values: values(24, 12) },
      { name: 'w2', shape: [1, 1, 24, 24], dtype: 'float32', values: values(576, 13) },
      { name: 'w3', shape: [1, 1, 24, 32], dtype: 'float32', values: values(768, 14) },
      { name: 'b32', shape: [32], dtype: 'float32', values: values(32, 15) },
      // centernet's hard-swish scale: 1/6 as stored in float16
      { name: 'k', shape: [], dtype: 'float32', values: [0.1666259765625] },
      { name: 'three', shape: [], dtype: 'float32', values: [3] },
      { name: 'channel_pads', shape: [4, 2], dtype: 'int32', values: [0, 0, 0, 0, 0, 0, 0, 8] },
      { name: 'spatial_axes', shape: [2], dtype: 'int32', values: [1, 2] },
      { name: 'to_nchw', shape: [4], dtype: 'int32', values: [0, 3, 1, 2] },
      { name: 'to_nhwc', shape: [4], dtype: 'int32', values: [0, 2, 3, 1] },
      { name: 'nchw_pads', shape: [4, 2], dtype: 'int32', values: [0, 0, 0, 0, 1, 1, 1, 1] },
      { name: 'minus_inf', shape: [], dtype: 'float32', values: [-Infinity] },
      { name: 'w4', shape: [1, 1, 24, 18], dtype: 'float32', values: values(432, 16) },
      { name: 'b18', shape: [18], dtype: 'float32', values: values(18, 17) },
      { name: 'dw18', shape: [3, 3, 18, 1], dtype: 'float32', values: values(162, 18) },
      { name: 'w5', shape: [1, 1, 18, 8], dtype: 'float32', values: values(144, 19) },
    ];
    const fused = (name: string, input: string, filter: string, bias: string, strides: number[]): Node =>
      conv(name, '_FusedConv2D', input, filter, { padding: s('VALID'), strides: ints(strides), fused_ops: strings(['BiasAdd']), num_args: { i: '1' } }, [bias]);
    const pool = (name: string, input: string, size: number): Node => ({ name, op: 'MaxPool', inputs: [input], attr: { ksize: ints([1, size, size, 1]), strides: ints([1, 2, 2, 1]), padding: s('VALID'), data_format: s('NHWC') } });
    const { diffs, graph } = await compare([1, 8, 8, 3], weights, [
      fused('c1', 'x', 'w1', 'b24', [1, 1, 1, 1]),
      { name: 'hs_scaled', op: 'Mul', inputs: ['k', 'c1'] },
      { name: 'hs_shifted', op: 'AddV2', inputs: ['c1', 'three'] },
      { name: 'hs_relu6', op: 'Relu6', inputs: ['hs_shifted'] },
      { name: 'hs', op: 'Mul', inputs: ['hs_scaled', 'hs_relu6'] },
      pool('pool', 'hs', 2),
      fused('c2', 'hs', 'w2', 'b24', [1, 2, 2, 1]),
      { name: 'res', op: 'AddV2', inputs: ['c2', 'pool'] },
      { name: 'widened', op: 'Pad', inputs: ['pool', 'channel_pads'], attr: { Tpaddings: { type: 'DT_INT32' } } },
      fused('c3', 'res', 'w3', 'b32', [1, 1, 1, 1]),
      { name: 'sum', op: 'AddV2', inputs: ['c3', 'widened'] },
      // squeeze-and-excite's mean: over H and W of a convolution's (here hard-swished) output
      { name: 'mean', op: 'Mean', inputs: ['hs', 'spatial_axes'], attr: { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } } },
      // nanodet's shape: a Pad(-inf) on an NCHW tensor between two Transposes, then MaxPool
      { name: 'nchw', op: 'Transpose', inputs: ['sum', 'to_nchw'], attr: { Tperm: { type: 'DT_INT32' } } },
      { name: 'nchw_padded', op: 'PadV2', inputs: ['nchw', 'nchw_pads', 'minus_inf'], attr: { Tpaddings: { type: 'DT_INT32' } } },
      { name: 'nhwc_padded', op: 'Transpose', inputs: ['nchw_padded', 'to_nhwc'], attr: { Tperm: { type: 'DT_INT32' } } },
      pool('peak', 'nhwc_padded', 3),
      // centernet's head: 1x1 conv + Relu, depthwise, 1x1 conv over 18 channels
      conv('narrow', '_FusedConv2D', 'hs', 'w4', { padding: s('VALID'), strides: ints([1, 1, 1, 1]), fused_ops: strings(['BiasAdd', 'Relu']), num_args: { i: '1' } }, ['b18']),
      conv('narrow_dw', 'DepthwiseConv2dNative', 'narrow', 'dw18', { padding: s('SAME'), strides: ints([1, 1, 1, 1]) }),
      conv('narrow_out', 'Conv2D', 'narrow_dw', 'w5', { padding: s('VALID'), strides: ints([1, 1, 1, 1]) }),
    ], ['hs', 'res', 'sum', 'mean', 'peak', 'narrow_out']);
    // Values reach tens after three convolutions summed in another order: a few float32 steps.
    for (const [name, diff] of Object.entries(diffs)) expect(diff, name).toBeLessThanOrEqual(5e-5);
    const count = (opType: string): number => graph.nodes.filter((node) => node.opType === opType).length;
    // 6 TF convolutions + 1 for hard-swish + identity after the 24-channel pool + the channel Pad as an embedding
    expect(count('Conv')).toBe(9);
    expect(count('Pad')).toBe(0);
    expect(count('Clip')).toBe(1);
    expect(count('ReduceMean')).toBe(0);
    expect(count('GlobalAveragePool')).toBe(1);
    expect(count('MaxPool')).toBe(2);
    const depthwise = graph.nodes.find((node) => node.outputs[0]!.startsWith('narrow_dw'))!;
    expect(depthwise.attributes.find((attribute) => attribute.name === 'group')?.value, '18 channels padded to 32').toBe(32);
  });
});
