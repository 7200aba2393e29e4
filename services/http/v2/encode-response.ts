/**
 * Encodes runtime outputs as an Open Inference Protocol infer response: JSON data, or raw bytes in
 * the binary section (Triton's binary tensor extension) for outputs asked with
 * `parameters.binary_data: true` or the request's `binary_data_output: true`. Pure.
 *
 * JSON limits, documented in docs/api.md: INT64/UINT64 past 2^53 lose precision as JSON numbers
 * (ask for binary to keep them exact), NaN and Infinity are not JSON and become null.
 */
import type { Tensor, TensorData } from '../../core/contracts.ts';
import { datatypeOf, halfToFloat } from './datatypes.ts';
import type { V2RequestedOutput } from './decode-request.ts';

export interface EncodeInput {
  model: string;
  version: string;
  id?: string;
  outputs: Record<string, Tensor>;
  /** Output names in the model's declared order. */
  declaredOrder: readonly string[];
  requested?: readonly V2RequestedOutput[];
  binaryOutputs: boolean;
}

export type EncodedResponse =
  | { kind: 'json'; body: Record<string, unknown> }
  | { kind: 'binary'; body: Buffer; headerLength: number };

function jsonData(tensor: Tensor): unknown[] {
  const data = tensor.data;
  if (Array.isArray(data)) return data;
  if (tensor.type === 'bool') return Array.from(data as Uint8Array, (value) => value !== 0);
  if (tensor.type === 'float16') return Array.from(data as Uint16Array, halfToFloat);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return Array.from(data as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>);
}

function binaryData(tensor: Tensor): Buffer {
  const data = tensor.data;
  if (Array.isArray(data)) {
    const parts: Buffer[] = [];
    for (const value of data) {
      const bytes = Buffer.from(value, 'utf8');
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32LE(bytes.byteLength);
      parts.push(prefix, bytes);
    }
    return Buffer.concat(parts);
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function outputOrder(input: EncodeInput): { name: string; binary: boolean }[] {
  if (input.requested !== undefined && input.requested.length > 0) {
    return input.requested.map((output) => ({ name: output.name, binary: output.binary || input.binaryOutputs }));
  }
  const declared = input.declaredOrder.filter((name) => Object.hasOwn(input.outputs, name));
  const extra = Object.keys(input.outputs).filter((name) => !input.declaredOrder.includes(name));
  return [...declared, ...extra].map((name) => ({ name, binary: input.binaryOutputs }));
}

export function encodeInferResponse(input: EncodeInput): EncodedResponse {
  const chunks: Buffer[] = [];
  const outputs = outputOrder(input).flatMap(({ name, binary }): Record<string, unknown>[] => {
    const tensor = input.outputs[name];
    if (tensor === undefined) return [];
    const head = { name, datatype: datatypeOf(tensor.type), shape: [...tensor.dims] };
    if (!binary) return [{ ...head, data: jsonData(tensor) }];
    const bytes = binaryData(tensor);
    chunks.push(bytes);
    return [{ ...head, parameters: { binary_data_size: bytes.byteLength } }];
  });
  const body = {
    model_name: input.model,
    model_version: input.version,
    ...(input.id === undefined ? {} : { id: input.id }),
    outputs,
  };
  if (chunks.length === 0) return { kind: 'json', body };
  const header = Buffer.from(JSON.stringify(body), 'utf8');
  return { kind: 'binary', body: Buffer.concat([header, ...chunks]), headerLength: header.byteLength };
}
