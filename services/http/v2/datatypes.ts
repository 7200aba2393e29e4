/**
 * Open Inference Protocol datatypes and how each maps onto a runtime tensor: element size in the
 * binary extension, the typed array that carries it, the value range JSON data must respect.
 * FP16 travels as IEEE half bits in a Uint16Array, BOOL as a Uint8Array of 0/1.
 */
import type { TensorData, TensorType, V2Datatype } from '../../core/contracts.ts';

export interface DatatypeInfo {
  type: TensorType;
  /** Bytes per element in the binary extension; 0 for BYTES (length-prefixed). */
  bytes: number;
  /** Kind of JSON value an element must be. */
  json: 'bool' | 'int' | 'bigint' | 'float' | 'half' | 'string';
  min?: number;
  max?: number;
}

export const DATATYPES: Readonly<Record<V2Datatype, DatatypeInfo>> = Object.freeze({
  BOOL: { type: 'bool', bytes: 1, json: 'bool' },
  UINT8: { type: 'uint8', bytes: 1, json: 'int', min: 0, max: 0xff },
  UINT16: { type: 'uint16', bytes: 2, json: 'int', min: 0, max: 0xffff },
  UINT32: { type: 'uint32', bytes: 4, json: 'int', min: 0, max: 0xffff_ffff },
  UINT64: { type: 'uint64', bytes: 8, json: 'bigint', min: 0, max: Number.MAX_SAFE_INTEGER },
  INT8: { type: 'int8', bytes: 1, json: 'int', min: -0x80, max: 0x7f },
  INT16: { type: 'int16', bytes: 2, json: 'int', min: -0x8000, max: 0x7fff },
  INT32: { type: 'int32', bytes: 4, json: 'int', min: -0x8000_0000, max: 0x7fff_ffff },
  INT64: { type: 'int64', bytes: 8, json: 'bigint', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  FP16: { type: 'float16', bytes: 2, json: 'half' },
  FP32: { type: 'float32', bytes: 4, json: 'float' },
  FP64: { type: 'float64', bytes: 8, json: 'float' },
  BYTES: { type: 'string', bytes: 0, json: 'string' },
});

export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === 'string' && Object.hasOwn(DATATYPES, value);
}

const DATATYPE_BY_TYPE: ReadonlyMap<TensorType, V2Datatype> = new Map(
  (Object.entries(DATATYPES) as [V2Datatype, DatatypeInfo][]).map(([datatype, info]) => [info.type, datatype]),
);

export function datatypeOf(type: TensorType): V2Datatype {
  const datatype = DATATYPE_BY_TYPE.get(type);
  if (datatype === undefined) throw new Error(`tensor type ${type} has no V2 datatype`);
  return datatype;
}

type NumericArray = Exclude<TensorData, string[]>;

/** An empty typed array of the right kind for `count` elements (never for BYTES). */
export function allocate(type: TensorType, count: number): NumericArray {
  switch (type) {
    case 'bool':
    case 'uint8':
      return new Uint8Array(count);
    case 'int8':
      return new Int8Array(count);
    case 'uint16':
    case 'float16':
      return new Uint16Array(count);
    case 'int16':
      return new Int16Array(count);
    case 'uint32':
      return new Uint32Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'uint64':
      return new BigUint64Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
    case 'string':
      throw new Error('BYTES tensors are string arrays, not typed arrays');
  }
}

// IEEE 754 half precision, round to nearest even (the JSON side of FP16).
const floatView = new Float32Array(1);
const bitsView = new Uint32Array(floatView.buffer);

export function floatToHalf(value: number): number {
  floatView[0] = value;
  const bits = bitsView[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7f_ffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x80_0000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to infinity: that is the right rounding.
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

export function halfToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
