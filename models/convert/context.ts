/**
 * The state of one conversion: which ONNX tensor (with dtype, static shape and, when known,
 * constant value) stands for each TF tensor reference, and the ONNX graph being built.
 * Constants become initializers only when a real node uses them, so folded-away weights
 * never reach the file.
 */
import type { OnnxAttribute, OnnxNode } from './onnx-ir.ts';
import type { TfNode } from './tfjs-graph.ts';
import { int64, float32, type ConstTensor, type DType } from './tensor.ts';

export interface TensorInfo {
  /** Name of the ONNX tensor. */
  onnx: string;
  dtype: DType;
  /** Static shape, with the batch dimension taken as 1 when it is variable. */
  shape: number[];
  /** Known value: weights and folded results. */
  value?: ConstTensor;
}

export class ConversionError extends Error {
  constructor(node: TfNode | string, message: string) {
    super(`${typeof node === 'string' ? node : `${node.op} ${node.name}`}: ${message}`);
    this.name = 'ConversionError';
  }
}

/** TF output k of node N is "N" for k = 0 and "N:k" otherwise, in TF and in the ONNX file. */
export const outputRef = (node: TfNode, index: number): string => (index === 0 ? node.name : `${node.name}:${index}`);

export class ConversionContext {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, ConstTensor>();
  private readonly tensors = new Map<string, TensorInfo>();
  private readonly names = new Set<string>();

  /** True when dimension 0 is a batch the ONNX model leaves open. */
  constructor(readonly batchVariable: boolean) {}

  define(ref: string, info: TensorInfo): void {
    if (this.tensors.has(ref)) throw new ConversionError(ref, 'defined twice');
    this.tensors.set(ref, info);
    this.names.add(info.onnx);
  }

  has(ref: string): boolean {
    return this.tensors.has(ref);
  }

  info(ref: string): TensorInfo {
    const info = this.tensors.get(ref);
    if (!info) throw new ConversionError(ref, 'tensor used before it is defined');
    return info;
  }

  input(node: TfNode, index: number): TensorInfo {
    const ref = node.inputs[index];
    if (ref === undefined) throw new ConversionError(node, `missing input ${index}`);
    return this.info(ref);
  }

  /** The constant value of input `index`, or a ConversionError naming what had to be constant. */
  constInput(node: TfNode, index: number, what: string): ConstTensor {
    const value = this.input(node, index).value;
    if (!value) throw new ConversionError(node, `${what} must be constant`);
    return value;
  }

  /** The ONNX name to feed to a node, adding the initializer the first time a constant is used. */
  use(info: TensorInfo): string {
    if (info.value && !this.initializers.has(info.onnx)) this.initializers.set(info.onnx, info.value);
    return info.onnx;
  }

  /** A name not yet taken, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let suffix = 1; this.names.has(name); suffix++) name = `${base}_${suffix}`;
    this.names.add(name);
    return name;
  }

  /** A new initializer (converted weights, shape vectors) with a fresh name. */
  constant(base: string, tensor: ConstTensor): string {
    const name = this.fresh(base);
    this.initializers.set(name, tensor);
    return name;
  }

  int64Constant(base: string, values: number[], shape?: number[]): string {
    return this.constant(base, int64(values, shape));
  }

  floatScalar(base: string, value: number): string {
    return this.constant(base, float32([value], []));
  }

  emit(opType: string, inputs: string[], outputs: string[], attributes: OnnxAttribute[] = []): void {
    for (const output of outputs) this.names.add(output);
    this.nodes.push({ name: outputs[0] ?? this.fresh(opType), opType, inputs, outputs, attributes });
  }
}
