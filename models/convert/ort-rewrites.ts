/**
 * Rewrites that keep onnxruntime's fast CPU path unbroken. With graph optimisation 'all',
 * onnxruntime runs convolutions in a channel-blocked layout (NCHWc, blocks of 16 channels
 * on AVX-512, 8 on AVX2) and only a few ops can consume that layout: Conv (with a fused
 * Relu/Clip/HardSigmoid/... and a fused residual Add), MaxPool/GlobalAveragePool on
 * block-aligned channels, Add/Mul of two same-shape blocked tensors, Concat, Resize, Relu,
 * Sigmoid. Anything else makes onnxruntime convert the tensor back to NCHW and, before the
 * next convolution, back to NCHWc: two extra passes over the tensor, plus the op itself.
 * Each rewrite below expresses a TF pattern with ops from that list. Except where said, they
 * compute exactly the same numbers (multiplications by 1, additions of 0, the same roundings):
 *  - hard-swish k*x * relu6(x + 3) (MobileNetV3 in centernet, k = 1/6 stored as float16) as
 *    x * Clip(k*x + 3k, 0, 6k): one 1x1 depthwise convolution with the Clip fused, and a Mul.
 *    Equal up to float32 rounding (k moves to the clip side: a few ulps per element);
 *  - Conv -> depthwise Conv -> Conv over 18 or 22 channels (centernet's head): the middle
 *    channels padded with zero filters to a multiple of 16;
 *  - a zero Pad of the channel axis (blazeface's shortcuts when the width doubles) as a 1x1
 *    convolution with an identity-and-zeros filter;
 *  - a MaxPool whose channel count is not block aligned (blazeface, 24 channels) feeding a
 *    residual Add: followed by an identity 1x1 convolution, so that the Add still meets a
 *    blocked tensor and fuses into the convolution before it;
 *  - squeeze-and-excite: the mean over H and W as GlobalAveragePool (it reads blocked input;
 *    it sums in another order, so equal up to float32 rounding), and x * gate with the [C]
 *    gate (a hard sigmoid as 1x1 depthwise convolutions, or a Sigmoid) spread over H x W by a
 *    nearest Resize, so that the Mul is a same-shape blocked Mul;
 *  - a Pad with -inf before a MaxPool (nanodet) as the MaxPool's own padding, which ONNX
 *    MaxPool ignores exactly as TF's -inf cells are ignored.
 * With both roundings, centernet's largest difference to TF.js on the test photos grows from
 * 1.1e-3 to 1.8e-3 px in wh (tolerance 2.8e-3) and stays ~3e-4 px in detections (5.2e-3).
 * Speed, measured with models/convert/speed.ts: see models/README.md.
 * The passes work on the converter's graph after Transpose merging: between convolutions
 * tensors are NCHW, the NHWC view of a tensor is Transpose(perm 0,2,3,1) of it.
 */
import { attr, type OnnxGraph, type OnnxNode } from './onnx-ir.ts';
import { float32, toNumbers, type ConstTensor } from './tensor.ts';
import { NCHW_TO_NHWC } from './ops/layout.ts';
import { SUNK_SUFFIX } from './sink-transposes.ts';

/** Static shape of a tensor the converter defined (TF tensors: NHWC), when known. */
export type ShapeLookup = (name: string) => readonly number[] | undefined;

/** onnxruntime's NCHWc block on AVX-512 machines (AVX2: 8, which divides it). */
const NCHWC_BLOCK = 16;

class GraphIndex {
  readonly producer = new Map<string, OnnxNode>();
  readonly consumers = new Map<string, OnnxNode[]>();

  constructor(readonly graph: OnnxGraph) {
    for (const node of graph.nodes) {
      for (const output of node.outputs) this.producer.set(output, node);
      for (const input of node.inputs) {
        if (!this.consumers.has(input)) this.consumers.set(input, []);
        this.consumers.get(input)!.push(node);
      }
    }
  }

  /** The value of a one-element float initializer. */
  scalar(name: string | undefined): number | undefined {
    const tensor = name === undefined ? undefined : this.graph.initializers.get(name);
    return tensor?.dtype === 'float32' && tensor.data.length === 1 ? (tensor.data as Float32Array)[0] : undefined;
  }

  isConstant(name: string): boolean {
    return this.graph.initializers.has(name);
  }

  /** The NCHW tensor whose NHWC view `name` is, when `name` is such a Transpose's output. */
  nchwSource(name: string): string | undefined {
    const node = this.producer.get(name);
    const perm = node?.opType === 'Transpose' ? node.attributes.find((attribute) => attribute.name === 'perm') : undefined;
    return perm?.kind === 'ints' && perm.value.join() === NCHW_TO_NHWC.join() ? node!.inputs[0] : undefined;
  }

  /** Channel count of a 4-D activation: walks up through shape-keeping ops to the convolution that made it. */
  channels(name: string): number | undefined {
    for (let node = this.producer.get(name); node; node = this.producer.get(node.inputs[0]!)) {
      if (node.opType === 'Conv') return this.graph.initializers.get(node.inputs[1]!)?.shape[0];
      if (!['Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Add', 'Mul', 'Transpose', 'MaxPool'].includes(node.opType)) return undefined;
    }
    return undefined;
  }
}

/** Inserts `nodes` where `replaced` was, in place of it (keeps the order topological). */
function replaceNode(graph: OnnxGraph, replaced: OnnxNode, nodes: OnnxNode[]): void {
  graph.nodes.splice(graph.nodes.indexOf(replaced), 1, ...nodes);
}

const node = (name: string, opType: string, inputs: string[], attributes: OnnxNode['attributes'] = [], outputs = [name]): OnnxNode => ({ name, opType, inputs, outputs, attributes });

/** Resize by whole factors, each cell copied (the only Resize onnxruntime runs blocked). */
const nearestSpread = (): OnnxNode['attributes'] => [attr.string('mode', 'nearest'), attr.string('coordinate_transformation_mode', 'asymmetric'), attr.string('nearest_mode', 'floor')];

const pointwise = (group: number): OnnxNode['attributes'] => [attr.ints('kernel_shape', [1, 1]), attr.int('group', group)];

/** Per-channel 1x1 depthwise filter [channels, 1, 1, 1] of one value. */
const depthwiseFilter = (channels: number, value: number) => float32(new Array<number>(channels).fill(value), [channels, 1, 1, 1]);

/** [outChannels, inChannels, 1, 1] with 1 where output channel offset + i reads input channel i. */
function embeddingFilter(inChannels: number, outChannels: number, offset: number) {
  const weights = new Array<number>(outChannels * inChannels).fill(0);
  for (let channel = 0; channel < inChannels; channel++) weights[(offset + channel) * inChannels + channel] = 1;
  return float32(weights, [outChannels, inChannels, 1, 1]);
}

/** A match of TF's k * relu6(x + 3) (hard sigmoid) or k*x * relu6(x + 3) (hard-swish). */
interface Relu6Match {
  /** The node computing the result. */
  output: OnnxNode;
  /** The NCHW tensor whose NHWC view is x. */
  source: string;
  channels: number;
  /** k, ~1/6. */
  scale: number;
}

/** TF's hard sigmoid of squeeze-and-excite: Mul(k, Relu6(Add(x, 3))) with k ~ 1/6, x an NHWC view. */
function findHardSigmoid(index: GraphIndex, output: OnnxNode | undefined): Relu6Match | undefined {
  if (output?.opType !== 'Mul') return undefined;
  const scale = index.scalar(output.inputs.find((input) => index.isConstant(input)));
  const clipped = index.producer.get(output.inputs.find((input) => !index.isConstant(input)) ?? '');
  if (scale === undefined || Math.abs(scale - 1 / 6) > 1e-3 || clipped?.opType !== 'Clip') return undefined;
  if (index.scalar(clipped.inputs[1]) !== 0 || index.scalar(clipped.inputs[2]) !== 6) return undefined;
  const shifted = index.producer.get(clipped.inputs[0]!);
  const x = shifted?.opType === 'Add' ? shifted.inputs.find((input) => !index.isConstant(input)) : undefined;
  if (!x || index.scalar(shifted!.inputs.find((input) => index.isConstant(input))) !== 3) return undefined;
  const source = index.nchwSource(x);
  const channels = source === undefined ? undefined : index.channels(source);
  return source && channels ? { output, source, channels, scale } : undefined;
}

/** TF's hard_swish: Mul(Mul(k, x), Relu6(Add(x, 3))) with k ~ 1/6 (stored as float16 in centernet). */
function findHardSwish(index: GraphIndex, output: OnnxNode): Relu6Match | undefined {
  if (output.opType !== 'Mul') return undefined;
  const [first, second] = output.inputs.map((input) => index.producer.get(input));
  for (const [scaled, clipped] of [[first, second], [second, first]]) {
    if (scaled?.opType !== 'Mul' || clipped?.opType !== 'Clip') continue;
    if (index.scalar(clipped.inputs[1]) !== 0 || index.scalar(clipped.inputs[2]) !== 6) continue;
    const shifted = index.producer.get(clipped.inputs[0]!);
    if (shifted?.opType !== 'Add') continue;
    const x = shifted.inputs.find((input) => !index.isConstant(input));
    if (!x || index.scalar(shifted.inputs.find((input) => index.isConstant(input))) !== 3) continue;
    if (scaled.inputs.find((input) => !index.isConstant(input)) !== x) continue;
    const scale = index.scalar(scaled.inputs.find((input) => index.isConstant(input)));
    const source = index.nchwSource(x);
    const channels = source === undefined ? undefined : index.channels(source);
    if (scale === undefined || Math.abs(scale - 1 / 6) > 1e-3 || !source || !channels) continue;
    return { output, source, channels, scale };
  }
  return undefined;
}

function hardSwishAsConvolutions(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  for (const match of graph.nodes.map((candidate) => findHardSwish(index, candidate)).filter((found) => found !== undefined)) {
    const base = match.output.outputs[0]!;
    const [shifted, clipped, product] = ['shifted', 'relu6', 'nchw'].map((suffix) => `${base}/${suffix}`) as [string, string, string];
    const [scaleFilter, shiftBias, clipMin, clipMax] = ['k_filter', 'shift_bias', 'clip_min', 'clip_max'].map((suffix) => `${base}/${suffix}`) as [string, string, string, string];
    const k = match.scale;
    graph.initializers.set(scaleFilter, depthwiseFilter(match.channels, k));
    graph.initializers.set(shiftBias, float32(new Array<number>(match.channels).fill(3 * k)));
    graph.initializers.set(clipMin, float32([0], []));
    graph.initializers.set(clipMax, float32([6 * k], []));
    replaceNode(graph, match.output, [
      node(shifted, 'Conv', [match.source, scaleFilter, shiftBias], pointwise(match.channels)),
      node(clipped, 'Clip', [shifted, clipMin, clipMax]),
      node(product, 'Mul', [match.source, clipped]),
      node(base, 'Transpose', [product], [attr.ints('perm', NCHW_TO_NHWC)]),
    ]);
  }
}

/**
 * Squeeze-and-excite's scaling x * s, x [1,H,W,C] (NHWC view of a blocked tensor), s = the hard
 * sigmoid [1,1,1,C]: onnxruntime cannot multiply a blocked tensor by a broadcast vector, so s is
 * computed by 1x1 depthwise convolutions (relu6(t + 3) with the Clip fused, then * k), spread
 * over H x W by a nearest Resize (copies), and multiplied as a same-shape blocked Mul.
 */
function excitationAsBlockedMul(graph: OnnxGraph, shapeOf: ShapeLookup): void {
  const index = new GraphIndex(graph);
  for (const scaling of graph.nodes.filter((candidate) => candidate.opType === 'Mul')) {
    const [first, second] = scaling.inputs as [string, string];
    for (const [features, gate] of [[first, second], [second, first]] as const) {
      const source = index.nchwSource(features);
      const shape = shapeOf(features);
      const sigmoid = findHardSigmoid(index, index.producer.get(gate));
      if (!source || !sigmoid || shape?.length !== 4 || shape[1]! * shape[2]! === 1 || shapeOf(gate)?.slice(1, 3).join() !== '1,1') continue;
      const base = scaling.outputs[0]!;
      const [shifted, clipped, scaled, spread, product] = ['gate_shifted', 'gate_relu6', 'gate', 'gate_spread', 'nchw'].map((suffix) => `${base}/${suffix}`) as [string, string, string, string, string];
      const [oneFilter, threeBias, scaleFilter, clipMin, clipMax, scales] = ['one_filter', 'three_bias', 'k_filter', 'clip_min', 'clip_max', 'spread_scales'].map((suffix) => `${base}/${suffix}`) as [string, string, string, string, string, string];
      graph.initializers.set(oneFilter, depthwiseFilter(sigmoid.channels, 1));
      graph.initializers.set(threeBias, float32(new Array<number>(sigmoid.channels).fill(3)));
      graph.initializers.set(scaleFilter, depthwiseFilter(sigmoid.channels, sigmoid.scale));
      graph.initializers.set(clipMin, float32([0], []));
      graph.initializers.set(clipMax, float32([6], []));
      graph.initializers.set(scales, float32([1, 1, shape[1]!, shape[2]!]));
      replaceNode(graph, scaling, [
        node(shifted, 'Conv', [sigmoid.source, oneFilter, threeBias], pointwise(sigmoid.channels)),
        node(clipped, 'Clip', [shifted, clipMin, clipMax]),
        node(scaled, 'Conv', [clipped, scaleFilter], pointwise(sigmoid.channels)),
        node(spread, 'Resize', [scaled, '', scales], nearestSpread()),
        node(product, 'Mul', [source, spread]),
        node(base, 'Transpose', [product], [attr.ints('perm', NCHW_TO_NHWC)]),
      ]);
      break;
    }
  }
}

/**
 * The same scaling when the gate is a Sigmoid (centernet's head), on the graph after
 * sink-transposes.ts: Mul(features, Sigmoid(t)) in NCHW with the gate [N,C,1,1] spread over
 * H x W by a nearest Resize, so that the Mul is a same-shape blocked Mul.
 */
function sigmoidExcitationAsBlockedMul(graph: OnnxGraph, shapeOf: ShapeLookup): void {
  const index = new GraphIndex(graph);
  const tfShape = (name: string) => (name.endsWith(SUNK_SUFFIX) ? shapeOf(name.slice(0, -SUNK_SUFFIX.length)) : undefined);
  for (const scaling of graph.nodes.filter((candidate) => candidate.opType === 'Mul')) {
    const shape = tfShape(scaling.outputs[0]!);
    const position = scaling.inputs.findIndex((input) => index.producer.get(input)?.opType === 'Sigmoid' && tfShape(input)?.slice(1, 3).join() === '1,1');
    if (position < 0 || shape?.length !== 4 || shape[1]! * shape[2]! === 1 || tfShape(scaling.inputs[1 - position]!)?.join() !== shape.join()) continue;
    const base = scaling.outputs[0]!;
    const [spread, scales] = [`${base}/gate_spread`, `${base}/spread_scales`];
    graph.initializers.set(scales, float32([1, 1, shape[1]!, shape[2]!]));
    graph.nodes.splice(graph.nodes.indexOf(scaling), 0, node(spread, 'Resize', [scaling.inputs[position]!, '', scales], nearestSpread()));
    scaling.inputs[position] = spread;
  }
}

/** Pad of an NHWC tensor on the channel axis only, with zeros: [0,0,0,before, 0,0,0,after]. */
function channelPadAsConvolution(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  for (const pad of graph.nodes.filter((candidate) => candidate.opType === 'Pad')) {
    const pads = graph.initializers.get(pad.inputs[1]!);
    const value = pad.inputs[2] ? index.scalar(pad.inputs[2]) : 0;
    const source = index.nchwSource(pad.inputs[0]!);
    const channels = source === undefined ? undefined : index.channels(source);
    if (!pads || value !== 0 || !source || !channels) continue;
    const [n0, h0, w0, before, n1, h1, w1, after] = toNumbers(pads);
    if (n0 || h0 || w0 || n1 || h1 || w1 || before! < 0 || after! < 0) continue;
    const base = pad.outputs[0]!;
    const filter = `${base}/embedding_filter`;
    graph.initializers.set(filter, embeddingFilter(channels, channels + before! + after!, before!));
    replaceNode(graph, pad, [
      node(`${base}/nchw`, 'Conv', [source, filter], pointwise(1)),
      node(base, 'Transpose', [`${base}/nchw`], [attr.ints('perm', NCHW_TO_NHWC)]),
    ]);
  }
}

/** MaxPool (NCHW) with unaligned channels whose NHWC view is added to another tensor. */
function poolShortcutThroughConvolution(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  for (const pool of graph.nodes.filter((candidate) => candidate.opType === 'MaxPool')) {
    const pooled = pool.outputs[0]!;
    const channels = index.channels(pool.inputs[0]!);
    const views = (index.consumers.get(pooled) ?? []).filter((consumer) => index.nchwSource(consumer.outputs[0]!) === pooled);
    const feedsAdd = views.some((view) => (index.consumers.get(view.outputs[0]!) ?? []).some((consumer) => consumer.opType === 'Add'));
    if (!channels || channels % NCHWC_BLOCK === 0 || !feedsAdd) continue;
    const raw = `${pooled}/pooled`;
    const filter = `${pooled}/identity_filter`;
    graph.initializers.set(filter, embeddingFilter(channels, channels, 0));
    Object.assign(pool, { name: raw, outputs: [raw] });
    graph.nodes.splice(graph.nodes.indexOf(pool) + 1, 0, node(pooled, 'Conv', [raw, filter], pointwise(1)));
  }
}

/** ReduceMean over H and W of an NHWC view, keeping dims (squeeze-and-excite): GlobalAveragePool on the NCHW tensor. */
function spatialMeanAsGlobalPool(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  for (const mean of graph.nodes.filter((candidate) => candidate.opType === 'ReduceMean')) {
    const axes = mean.attributes.find((attribute) => attribute.name === 'axes');
    const keepDims = mean.attributes.find((attribute) => attribute.name === 'keepdims');
    const source = index.nchwSource(mean.inputs[0]!);
    if (axes?.kind !== 'ints' || axes.value.join() !== '1,2' || keepDims?.value !== 1 || !source) continue;
    const base = mean.outputs[0]!;
    replaceNode(graph, mean, [
      node(`${base}/nchw`, 'GlobalAveragePool', [source]),
      node(base, 'Transpose', [`${base}/nchw`], [attr.ints('perm', NCHW_TO_NHWC)]),
    ]);
  }
}

/** A copy of a float tensor with axis `axis` zero-extended to `size`. */
function zeroExtend(tensor: ConstTensor, axis: number, size: number): ConstTensor {
  const shape = tensor.shape.map((dim, index) => (index === axis ? size : dim));
  const inner = tensor.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = tensor.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const source = tensor.data as Float32Array;
  for (let o = 0; o < outer; o++) data.set(source.subarray(o * tensor.shape[axis]! * inner, (o + 1) * tensor.shape[axis]! * inner), o * size * inner);
  return { dtype: 'float32', shape, data };
}

/**
 * Conv -> [Relu] -> depthwise Conv -> Conv over a channel count onnxruntime cannot block
 * (centernet's head: 18 and 22): the middle channels are padded with zero filters up to the
 * block, so the three run blocked. The extra channels hold exact zeros and add 0 to the sums.
 */
function padUnalignedDepthwise(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  const only = (name: string): OnnxNode | undefined => {
    const consumers = index.consumers.get(name) ?? [];
    return consumers.length === 1 ? consumers[0] : undefined;
  };
  const groupOf = (conv: OnnxNode): number => Number(conv.attributes.find((attribute) => attribute.name === 'group')?.value ?? 1);
  for (const first of graph.nodes.filter((candidate) => candidate.opType === 'Conv' && groupOf(candidate) === 1)) {
    const filter = graph.initializers.get(first.inputs[1]!);
    const channels = filter?.shape[0];
    if (!filter || filter.dtype !== 'float32' || !channels || channels % 8 === 0) continue;
    let next = only(first.outputs[0]!);
    const relu = next?.opType === 'Relu' ? next : undefined;
    if (relu) next = only(relu.outputs[0]!);
    const depthwise = next?.opType === 'Conv' && groupOf(next) === channels ? next : undefined;
    const last = depthwise ? only(depthwise.outputs[0]!) : undefined;
    if (!depthwise || last?.opType !== 'Conv' || groupOf(last) !== 1 || last.inputs[0] !== depthwise.outputs[0]) continue;
    const padded = Math.ceil(channels / NCHWC_BLOCK) * NCHWC_BLOCK;
    const widen = (conv: OnnxNode, input: number, axis: number): void => {
      const tensor = graph.initializers.get(conv.inputs[input]!);
      if (!tensor || tensor.dtype !== 'float32') throw new Error(`${conv.name}: input ${input} is not a float initializer`);
      const name = `${conv.outputs[0]!}/padded_${input}`;
      graph.initializers.set(name, zeroExtend(tensor, axis, padded));
      conv.inputs[input] = name;
    };
    if (graph.initializers.get(depthwise.inputs[1]!)?.dtype !== 'float32' || graph.initializers.get(last.inputs[1]!)?.dtype !== 'float32') continue;
    widen(first, 1, 0);
    if (first.inputs[2]) widen(first, 2, 0);
    widen(depthwise, 1, 0);
    if (depthwise.inputs[2]) widen(depthwise, 2, 0);
    depthwise.attributes = depthwise.attributes.map((attribute) => (attribute.name === 'group' ? attr.int('group', padded) : attribute));
    widen(last, 1, 1);
  }
}

/** Pad(-inf) of the spatial axes (NCHW) read only by a MaxPool: the MaxPool pads itself. */
function padIntoMaxPool(graph: OnnxGraph): void {
  const index = new GraphIndex(graph);
  for (const pad of graph.nodes.filter((candidate) => candidate.opType === 'Pad')) {
    const pads = graph.initializers.get(pad.inputs[1]!);
    const consumers = index.consumers.get(pad.outputs[0]!) ?? [];
    const pool = consumers[0];
    if (!pads || index.scalar(pad.inputs[2]) !== -Infinity || consumers.length !== 1 || pool?.opType !== 'MaxPool') continue;
    const [n0, c0, top, left, n1, c1, bottom, right] = toNumbers(pads);
    const poolPads = pool.attributes.find((attribute) => attribute.name === 'pads');
    if (n0 || c0 || n1 || c1 || poolPads?.kind !== 'ints' || [top, left, bottom, right].some((amount) => amount! < 0)) continue;
    const [pt, pl, pb, pr] = poolPads.value as [number, number, number, number];
    pool.inputs = [pad.inputs[0]!];
    pool.attributes = pool.attributes.map((attribute) => (attribute === poolPads ? attr.ints('pads', [pt + top!, pl + left!, pb + bottom!, pr + right!]) : attribute));
    graph.nodes.splice(graph.nodes.indexOf(pad), 1);
  }
}

export function rewriteForOnnxruntime(graph: OnnxGraph, shapeOf: ShapeLookup): void {
  padUnalignedDepthwise(graph);
  padIntoMaxPool(graph);
  hardSwishAsConvolutions(graph);
  excitationAsBlockedMul(graph, shapeOf);
  channelPadAsConvolution(graph);
  poolShortcutThroughConvolution(graph);
  spatialMeanAsGlobalPool(graph);
}

/** The rewrites that need the graph after sink-transposes.ts (NCHW between convolutions). */
export function rewriteSunkForOnnxruntime(graph: OnnxGraph, shapeOf: ShapeLookup): void {
  spatialMeanAsGlobalPool(graph);
  sigmoidExcitationAsBlockedMul(graph, shapeOf);
}
