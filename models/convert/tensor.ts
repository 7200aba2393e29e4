/**
 * Constant tensors as the converter holds them: TF.js weights, folded values and ONNX
 * initializers. Elements are stored in row-major order, as both TF and ONNX lay them out.
 */

/** float16 only appears in written initializers (raw IEEE half bits in a Uint16Array). */
export type DType = 'float32' | 'int32' | 'int64' | 'bool' | 'float64' | 'float16';

export type TensorValues = Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Float64Array;

export interface ConstTensor {
  dtype: DType;
  shape: number[];
  data: TensorValues;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

export function allocate(dtype: DType, count: number): TensorValues {
  switch (dtype) {
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'bool':
      return new Uint8Array(count);
    case 'float16':
      return new Uint16Array(count);
  }
}

/** Reads element i as a JS number (int64 values in our graphs are small shape numbers). */
export function readNumber(tensor: ConstTensor, index: number): number {
  const value = tensor.data[index];
  if (value === undefined) throw new Error(`element ${index} outside tensor of shape [${tensor.shape}]`);
  return typeof value === 'bigint' ? Number(value) : value;
}

export function toNumbers(tensor: ConstTensor): number[] {
  return Array.from({ length: tensor.data.length }, (_, index) => readNumber(tensor, index));
}

export function fromNumbers(dtype: DType, shape: number[], values: readonly number[]): ConstTensor {
  const data = allocate(dtype, values.length);
  if (data instanceof BigInt64Array) values.forEach((value, index) => (data[index] = BigInt(value)));
  else data.set(values);
  return { dtype, shape, data };
}

export function int64(values: readonly number[], shape: number[] = [values.length]): ConstTensor {
  return fromNumbers('int64', shape, values);
}

export function float32(values: readonly number[], shape: number[] = [values.length]): ConstTensor {
  return fromNumbers('float32', shape, values);
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  return strides;
}

/** Moves axes as ONNX/TF Transpose does: output axis i is input axis perm[i]. */
export function transposeConst(tensor: ConstTensor, perm: readonly number[]): ConstTensor {
  const inShape = tensor.shape;
  const outShape = perm.map((axis) => inShape[axis]!);
  const inStrides = stridesOf(inShape);
  const outData = allocate(tensor.dtype, tensor.data.length);
  const count = tensor.data.length;
  const index = new Array<number>(outShape.length).fill(0);
  for (let outPos = 0; outPos < count; outPos++) {
    let inPos = 0;
    for (let axis = 0; axis < outShape.length; axis++) inPos += index[axis]! * inStrides[perm[axis]!]!;
    (outData as Float32Array)[outPos] = (tensor.data as Float32Array)[inPos]!;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      index[axis]!++;
      if (index[axis]! < outShape[axis]!) break;
      index[axis] = 0;
    }
  }
  return { dtype: tensor.dtype, shape: outShape, data: outData };
}
