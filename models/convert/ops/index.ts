/** The table of TF ops the converter maps, op name -> mapper. */
import type { ConversionContext } from '../context.ts';
import type { TfNode } from '../tfjs-graph.ts';
import { convertConv, convertMaxPool } from './conv.ts';
import { convertActivation, convertBinary, convertCast, convertFloorDiv, convertFloorMod, convertIdentity, convertSoftmax } from './elementwise.ts';
import { convertMean } from './reduce.ts';
import { convertResizeBilinear } from './resize.ts';
import { convertGather, convertTopK } from './select.ts';
import { convertConcat, convertExpandDims, convertPad, convertReshape, convertSplitV, convertStridedSlice, convertTranspose } from './shape.ts';

export type OpMapper = (ctx: ConversionContext, node: TfNode) => void;

export const OP_MAPPERS: Readonly<Record<string, OpMapper>> = {
  Conv2D: convertConv,
  _FusedConv2D: convertConv,
  DepthwiseConv2dNative: convertConv,
  FusedDepthwiseConv2dNative: convertConv,
  MaxPool: convertMaxPool,
  Add: convertBinary,
  AddV2: convertBinary,
  Sub: convertBinary,
  Mul: convertBinary,
  Equal: convertBinary,
  Relu: convertActivation,
  Relu6: convertActivation,
  Sigmoid: convertActivation,
  LeakyRelu: convertActivation,
  Softmax: convertSoftmax,
  Identity: convertIdentity,
  Cast: convertCast,
  FloorDiv: convertFloorDiv,
  FloorMod: convertFloorMod,
  Mean: convertMean,
  ResizeBilinear: convertResizeBilinear,
  GatherV2: convertGather,
  TopKV2: convertTopK,
  Reshape: convertReshape,
  Transpose: convertTranspose,
  ConcatV2: convertConcat,
  ExpandDims: convertExpandDims,
  Pad: convertPad,
  PadV2: convertPad,
  SplitV: convertSplitV,
  StridedSlice: convertStridedSlice,
};
