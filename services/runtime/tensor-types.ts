/**
 * Element types and the typed arrays that carry them, as onnxruntime-node expects them:
 * bool travels as Uint8Array (0/1) and float16 as Uint16Array (IEEE half bits).
 */
import type { Tensor, TensorData, TensorType } from '../core/contracts.ts';

type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

export type TypedTensorData = Exclude<TensorData, string[]>;

const ARRAY_OF_TYPE: Readonly<Record<Exclude<TensorType, 'string'>, TypedArrayConstructor>> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  uint64: BigUint64Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

const TENSOR_TYPES: ReadonlySet<string> = new Set([...Object.keys(ARRAY_OF_TYPE), 'string']);

export function isTensorType(value: unknown): value is TensorType {
  return typeof value === 'string' && TENSOR_TYPES.has(value);
}

/** True when `data` is the array class onnxruntime expects for `type`. */
export function dataMatchesType(type: TensorType, data: unknown): boolean {
  if (type === 'string') return Array.isArray(data) && data.every((item) => typeof item === 'string');
  const expected = ARRAY_OF_TYPE[type];
  return data instanceof expected;
}

/** A new, zero-filled array of `length` elements of `type`. */
export function allocate(type: TensorType, length: number): TensorData {
  if (type === 'string') return new Array<string>(length).fill('');
  return new ARRAY_OF_TYPE[type](length);
}

/** Elements of a shape; NaN when a dimension is not a non-negative integer or the product overflows. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) {
    if (!Number.isSafeInteger(dim) || dim < 0) return Number.NaN;
    count *= dim;
    if (!Number.isSafeInteger(count)) return Number.NaN;
  }
  return count;
}

/**
 * The buffers that can move to another thread without copying: an ArrayBuffer that the array
 * covers whole (a view into a larger buffer, e.g. Node's Buffer pool, would drag the rest along).
 * Arrays that do not qualify are replaced by a tight copy, which is then transferable too.
 */
export function prepareForTransfer(tensor: Tensor, transfer: Set<ArrayBuffer>): Tensor {
  const { data } = tensor;
  if (Array.isArray(data)) return tensor;
  const buffer = data.buffer;
  const whole = buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength;
  if (whole && !transfer.has(buffer)) {
    transfer.add(buffer);
    return tensor;
  }
  const copy = data.slice();
  transfer.add(copy.buffer as ArrayBuffer);
  return { ...tensor, data: copy };
}
