/**
 * Decodes an Open Inference Protocol infer request, JSON or with Triton's binary tensor extension,
 * into runtime tensors. Pure: bytes in, a validated request or an EdgeError out. Every input is
 * checked before any tensor memory is allocated, so a shape of 2^60 costs nothing.
 *
 * Binary extension: the header `Inference-Header-Content-Length: N` says the first N bytes are the
 * JSON header; the tensors follow raw, in input order, each input saying
 * `parameters.binary_data_size`. BYTES elements are a 4-byte little-endian length + the bytes.
 */
import type { Tensor, TensorData, V2Datatype } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import { allocate, DATATYPES, floatToHalf, isV2Datatype, type DatatypeInfo } from './datatypes.ts';
import { parseGuardedJson } from './json-guard.ts';

export interface V2DecodedInput {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  tensor: Tensor;
}

export interface V2RequestedOutput {
  name: string;
  /** Answer this output in the binary section. */
  binary: boolean;
}

export interface V2InferRequest {
  id?: string;
  inputs: V2DecodedInput[];
  /** Undefined: every output of the model. */
  outputs?: V2RequestedOutput[];
  /** `parameters.binary_data_output`: outputs not listed are answered in binary too. */
  binaryOutputs: boolean;
  /** Triton's `parameters.timeout` (microseconds), as milliseconds. */
  timeoutMs?: number;
  /** Triton's `parameters.priority`. */
  priority?: number;
}

export interface DecodeLimits {
  maxJsonDepth: number;
}

/** ONNX Runtime and typed arrays both stop at 2^31 - 1 elements. */
export const MAX_ELEMENTS = 2 ** 31 - 1;
export const MAX_RANK = 32;
export const MAX_TENSOR_NAME_LENGTH = 256;
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function fail(code: ConstructorParameters<typeof EdgeError>[0], message: string): never {
  throw new EdgeError(code, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses the Inference-Header-Content-Length header against the body it describes. */
export function parseHeaderLength(header: string | string[] | undefined, bodyLength: number): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!/^\d{1,15}$/.test(text.trim())) {
    fail('EDGE_ERR_V2_BINARY_INVALID', `Inference-Header-Content-Length must be a byte count, got "${text.slice(0, 40)}"`);
  }
  const length = Number(text.trim());
  if (length > bodyLength) {
    fail('EDGE_ERR_V2_BINARY_INVALID', `Inference-Header-Content-Length ${length} is past the end of the ${bodyLength}-byte body`);
  }
  if (length === 0) fail('EDGE_ERR_V2_BINARY_INVALID', 'Inference-Header-Content-Length must be > 0 (the JSON header)');
  return length;
}

export function checkTensorName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0) fail('EDGE_ERR_V2_TENSOR_NAME_INVALID', `${what} needs a non-empty string "name"`);
  if (name.length > MAX_TENSOR_NAME_LENGTH) {
    fail('EDGE_ERR_V2_TENSOR_NAME_INVALID', `${what} name is longer than ${MAX_TENSOR_NAME_LENGTH} characters`);
  }
  if (FORBIDDEN_NAMES.has(name)) fail('EDGE_ERR_V2_TENSOR_NAME_INVALID', `"${name}" is not allowed as a tensor name`);
  return name;
}

/** Dimensions: non-negative integers, and the element count must stay addressable. */
export function elementCount(shape: unknown, input: string): { shape: number[]; count: number } {
  if (!Array.isArray(shape)) fail('EDGE_ERR_V2_SHAPE_INVALID', `input "${input}": "shape" must be an array of integers`);
  if (shape.length > MAX_RANK) fail('EDGE_ERR_V2_SHAPE_INVALID', `input "${input}": rank ${shape.length} is over ${MAX_RANK}`);
  let count = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) {
      fail('EDGE_ERR_V2_SHAPE_INVALID', `input "${input}": every dimension must be an integer >= 0, got ${JSON.stringify(dim)}`);
    }
    if (dim > MAX_ELEMENTS) fail('EDGE_ERR_V2_SHAPE_INVALID', `input "${input}": dimension ${dim} is over ${MAX_ELEMENTS}`);
    count *= dim;
    if (count > MAX_ELEMENTS) {
      fail('EDGE_ERR_V2_SHAPE_INVALID', `input "${input}": shape [${shape.join(',')}] has more than ${MAX_ELEMENTS} elements`);
    }
  }
  return { shape: shape as number[], count };
}

function mismatch(input: string, message: string): never {
  fail('EDGE_ERR_V2_DATA_MISMATCH', `input "${input}": ${message}`);
}

function fromJsonData(input: string, datatype: V2Datatype, info: DatatypeInfo, data: unknown, count: number): TensorData {
  if (!Array.isArray(data)) mismatch(input, '"data" must be an array (flat or nested, row-major)');
  const flat: unknown[] = data.some(Array.isArray) ? data.flat(MAX_RANK) : data;
  if (flat.length !== count) mismatch(input, `shape holds ${count} elements but "data" has ${flat.length}`);
  if (info.json === 'string') {
    return flat.map((value, index) => {
      if (typeof value !== 'string') mismatch(input, `element ${index} of a BYTES tensor must be a string`);
      return value;
    });
  }
  const target = allocate(info.type, count);
  for (let index = 0; index < count; index += 1) {
    const value = flat[index];
    switch (info.json) {
      case 'bool':
        if (typeof value !== 'boolean') mismatch(input, `element ${index} of a BOOL tensor must be true or false`);
        (target as Uint8Array)[index] = value ? 1 : 0;
        break;
      case 'int':
      case 'bigint':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < info.min! || value > info.max!) {
          mismatch(input, `element ${index} (${JSON.stringify(value)}) is not a ${datatype} integer in [${info.min}, ${info.max}]`);
        }
        if (info.json === 'bigint') (target as BigInt64Array)[index] = BigInt(value);
        else (target as Int32Array)[index] = value;
        break;
      case 'float':
      case 'half': {
        if (typeof value !== 'number') mismatch(input, `element ${index} (${JSON.stringify(value)}) of a ${datatype} tensor is not a number`);
        if (info.json === 'half') {
          (target as Uint16Array)[index] = floatToHalf(value);
        } else {
          const floats = target as Float32Array | Float64Array;
          floats[index] = value;
          // FP32 silently becomes Infinity past 3.4e38: that is not the number the client sent.
          if (!Number.isFinite(floats[index]!)) mismatch(input, `element ${index} (${value}) does not fit ${datatype}`);
        }
        break;
      }
    }
  }
  return target;
}

function bytesElements(input: string, bytes: Uint8Array, count: number): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8');
  const values: string[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 4 > bytes.byteLength) mismatch(input, 'BYTES element length prefix runs past binary_data_size');
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) mismatch(input, 'BYTES element runs past binary_data_size');
    values.push(decoder.decode(bytes.subarray(offset, offset + length)));
    offset += length;
    if (values.length > count) break;
  }
  if (values.length !== count) mismatch(input, `shape holds ${count} elements but the binary data has ${values.length}`);
  return values;
}

function fromBinaryData(input: string, datatype: V2Datatype, info: DatatypeInfo, bytes: Uint8Array, count: number): TensorData {
  if (info.json === 'string') return bytesElements(input, bytes, count);
  if (bytes.byteLength !== count * info.bytes) {
    mismatch(input, `shape x ${datatype} is ${count * info.bytes} bytes but binary_data_size is ${bytes.byteLength}`);
  }
  // Copy: the body's buffer is shared and unaligned, and tensors are transferred to workers.
  const target = allocate(info.type, count);
  new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(bytes);
  if (info.json === 'bool') {
    const bools = target as Uint8Array;
    for (let index = 0; index < count; index += 1) bools[index] = bools[index] === 0 ? 0 : 1;
  }
  return target;
}

function decodeOutputs(value: unknown): V2RequestedOutput[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) fail('EDGE_ERR_V2_REQUEST_INVALID', '"outputs" must be an array of {name, parameters?}');
  const seen = new Set<string>();
  return value.map((output, index) => {
    if (!isPlainObject(output)) fail('EDGE_ERR_V2_REQUEST_INVALID', `outputs[${index}] must be an object`);
    const name = checkTensorName(output.name, `outputs[${index}]`);
    if (seen.has(name)) fail('EDGE_ERR_V2_TENSOR_NAME_INVALID', `output "${name}" is requested twice`);
    seen.add(name);
    const parameters = output.parameters;
    if (parameters !== undefined && !isPlainObject(parameters)) fail('EDGE_ERR_V2_REQUEST_INVALID', `outputs[${index}].parameters must be an object`);
    const binary = parameters?.binary_data;
    if (binary !== undefined && typeof binary !== 'boolean') fail('EDGE_ERR_V2_REQUEST_INVALID', `outputs[${index}].parameters.binary_data must be a boolean`);
    return { name, binary: binary === true };
  });
}

function decodeRequestParameters(value: unknown): Pick<V2InferRequest, 'binaryOutputs' | 'timeoutMs' | 'priority'> {
  if (value === undefined) return { binaryOutputs: false };
  if (!isPlainObject(value)) fail('EDGE_ERR_V2_REQUEST_INVALID', '"parameters" must be an object');
  const { binary_data_output: binary, timeout, priority } = value;
  if (binary !== undefined && typeof binary !== 'boolean') fail('EDGE_ERR_V2_REQUEST_INVALID', 'parameters.binary_data_output must be a boolean');
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0)) {
    fail('EDGE_ERR_V2_REQUEST_INVALID', 'parameters.timeout must be a positive integer (microseconds)');
  }
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0)) {
    fail('EDGE_ERR_V2_REQUEST_INVALID', 'parameters.priority must be an integer >= 0');
  }
  return {
    binaryOutputs: binary === true,
    ...(timeout === undefined ? {} : { timeoutMs: Math.ceil((timeout as number) / 1000) }),
    ...(priority === undefined ? {} : { priority: priority as number }),
  };
}

/** Bytes of the body -> a validated request with runtime tensors. */
export function decodeInferRequest(body: Buffer, headerLength: number | undefined, limits: DecodeLimits): V2InferRequest {
  if (body.byteLength === 0) fail('EDGE_ERR_BODY_EMPTY', 'the infer request body is empty');
  const jsonEnd = headerLength ?? body.byteLength;
  const root = parseGuardedJson(body.toString('utf8', 0, jsonEnd), limits.maxJsonDepth);
  if (!isPlainObject(root)) fail('EDGE_ERR_V2_REQUEST_INVALID', 'the request must be a JSON object {inputs: [...]}');
  if (root.id !== undefined && typeof root.id !== 'string') fail('EDGE_ERR_V2_REQUEST_INVALID', '"id" must be a string');
  if (!Array.isArray(root.inputs) || root.inputs.length === 0) {
    fail('EDGE_ERR_V2_REQUEST_INVALID', '"inputs" must be a non-empty array of {name, shape, datatype, data}');
  }
  const binary = body.subarray(jsonEnd);
  let binaryOffset = 0;
  const seen = new Set<string>();
  const inputs: V2DecodedInput[] = [];
  for (const [index, input] of root.inputs.entries()) {
    if (!isPlainObject(input)) fail('EDGE_ERR_V2_REQUEST_INVALID', `inputs[${index}] must be an object`);
    const name = checkTensorName(input.name, `inputs[${index}]`);
    if (seen.has(name)) fail('EDGE_ERR_V2_TENSOR_NAME_INVALID', `input "${name}" appears twice`);
    seen.add(name);
    if (!isV2Datatype(input.datatype)) {
      fail('EDGE_ERR_V2_DATATYPE_UNKNOWN', `input "${name}": unknown datatype ${JSON.stringify(input.datatype)}; use one of ${Object.keys(DATATYPES).join(', ')}`);
    }
    const datatype = input.datatype;
    const info = DATATYPES[datatype];
    const { shape, count } = elementCount(input.shape, name);
    const parameters = input.parameters;
    if (parameters !== undefined && !isPlainObject(parameters)) fail('EDGE_ERR_V2_REQUEST_INVALID', `input "${name}": "parameters" must be an object`);
    const binarySize = parameters?.binary_data_size;
    let data: TensorData;
    if (binarySize !== undefined) {
      if (input.data !== undefined) fail('EDGE_ERR_V2_REQUEST_INVALID', `input "${name}" has both "data" and binary_data_size`);
      if (headerLength === undefined) {
        fail('EDGE_ERR_V2_BINARY_INVALID', `input "${name}" says binary_data_size but the request has no Inference-Header-Content-Length`);
      }
      if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0) {
        fail('EDGE_ERR_V2_BINARY_INVALID', `input "${name}": binary_data_size must be an integer >= 0`);
      }
      if (binaryOffset + binarySize > binary.byteLength) {
        fail('EDGE_ERR_V2_BINARY_INVALID', `input "${name}": binary_data_size ${binarySize} runs past the end of the body`);
      }
      data = fromBinaryData(name, datatype, info, binary.subarray(binaryOffset, binaryOffset + binarySize), count);
      binaryOffset += binarySize;
    } else {
      if (input.data === undefined) fail('EDGE_ERR_V2_REQUEST_INVALID', `input "${name}" has no "data" (nor parameters.binary_data_size)`);
      data = fromJsonData(name, datatype, info, input.data, count);
    }
    inputs.push({ name, datatype, shape, tensor: { type: info.type, dims: shape, data } });
  }
  if (binaryOffset !== binary.byteLength) {
    fail('EDGE_ERR_V2_BINARY_INVALID', `${binary.byteLength - binaryOffset} bytes after the header belong to no input`);
  }
  const outputs = decodeOutputs(root.outputs);
  return {
    ...(root.id === undefined ? {} : { id: root.id as string }),
    inputs,
    ...(outputs === undefined ? {} : { outputs }),
    ...decodeRequestParameters(root.parameters),
  };
}
