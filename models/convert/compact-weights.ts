/**
 * centernet's and nanodet's TF.js weights are float16 values (the package quantised them).
 * Written back as float32 they would double in size; this pass stores every large float32
 * initializer whose values are all exact float16 numbers as a FLOAT16 initializer plus a
 * Cast to float32. No value changes (the check is exact), and onnxruntime folds the Cast
 * once at load time, so inference runs on the same float32 weights.
 */
import type { OnnxGraph, OnnxNode } from './onnx-ir.ts';
import { attr } from './onnx-ir.ts';
import { onnxDataType } from './onnx-writer.ts';
import type { ConstTensor } from './tensor.ts';

/** Small tensors are not worth a Cast node. */
const MIN_ELEMENTS = 256;

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 -> float16 bits when the value is exactly representable (normal or subnormal), else undefined. */
export function exactHalf(value: number): number | undefined {
  scratch[0] = value;
  const bits = scratchBits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0 && mantissa === 0) return sign;
  const unbiased = exponent - 127;
  if (unbiased >= -14 && unbiased <= 15) {
    if (mantissa & 0x1fff) return undefined;
    return sign | ((unbiased + 15) << 10) | (mantissa >>> 13);
  }
  if (unbiased >= -24 && unbiased < -14) {
    // Subnormal half: value = m * 2^-24 with m < 1024 an integer.
    const scaled = Math.abs(value) * 2 ** 24;
    return Number.isInteger(scaled) ? sign | scaled : undefined;
  }
  return undefined;
}

export function toHalf(tensor: ConstTensor): ConstTensor | undefined {
  if (tensor.dtype !== 'float32' || tensor.data.length < MIN_ELEMENTS) return undefined;
  const half = new Uint16Array(tensor.data.length);
  for (let i = 0; i < half.length; i++) {
    const bits = exactHalf((tensor.data as Float32Array)[i]!);
    if (bits === undefined) return undefined;
    half[i] = bits;
  }
  return { dtype: 'float16', shape: tensor.shape, data: half };
}

export function compactWeights(graph: OnnxGraph): void {
  const casts: OnnxNode[] = [];
  const initializers = new Map<string, ConstTensor>();
  for (const [name, tensor] of graph.initializers) {
    const half = toHalf(tensor);
    if (!half) {
      initializers.set(name, tensor);
      continue;
    }
    initializers.set(`${name}/fp16`, half);
    casts.push({ name: `${name}/cast`, opType: 'Cast', inputs: [`${name}/fp16`], outputs: [name], attributes: [attr.int('to', onnxDataType('float32'))] });
  }
  graph.initializers = initializers;
  graph.nodes = [...casts, ...graph.nodes];
}
