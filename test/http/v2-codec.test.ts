/**
 * The V2 codec on its own (pure functions, no server): JSON and binary decoding, every validation
 * code, signature matching and encoding, FP16 conversion and the JSON depth guard.
 */
import { describe, expect, it } from 'vitest';
import type { ModelSignature, Tensor } from '../../services/core/contracts.ts';
import { floatToHalf, halfToFloat } from '../../services/http/v2/datatypes.ts';
import { decodeInferRequest, parseHeaderLength } from '../../services/http/v2/decode-request.ts';
import { encodeInferResponse } from '../../services/http/v2/encode-response.ts';
import { jsonDepthExceeds, parseGuardedJson } from '../../services/http/v2/json-guard.ts';
import { checkAgainstSignature } from '../../services/http/v2/signature-check.ts';
import { codeOfSync } from '../support/code-of.ts';

const LIMITS = { maxJsonDepth: 32 };

function json(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}


function binaryRequest(header: unknown, ...tensors: Uint8Array[]): { body: Buffer; headerLength: number } {
  const head = json(header);
  return { body: Buffer.concat([head, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]), headerLength: head.byteLength };
}

const SUM: ModelSignature = {
  inputs: [
    { name: 'INPUT0', type: 'float32', dims: [-1, 16] },
    { name: 'INPUT1', type: 'float32', dims: [-1, 16] },
  ],
  outputs: [
    { name: 'OUTPUT0', type: 'float32', dims: [-1, 16] },
    { name: 'OUTPUT1', type: 'float32', dims: [-1, 16] },
  ],
};

const ones = (n: number) => Array.from({ length: n }, () => 1);

describe('decodeInferRequest: JSON', () => {
  it('decodes flat and nested data of every fixed datatype into the right typed arrays', () => {
    const request = decodeInferRequest(
      json({
        id: 'r1',
        inputs: [
          { name: 'b', datatype: 'BOOL', shape: [2], data: [true, false] },
          { name: 'u8', datatype: 'UINT8', shape: [2], data: [0, 255] },
          { name: 'i8', datatype: 'INT8', shape: [2], data: [-128, 127] },
          { name: 'u16', datatype: 'UINT16', shape: [1], data: [65535] },
          { name: 'i16', datatype: 'INT16', shape: [1], data: [-32768] },
          { name: 'u32', datatype: 'UINT32', shape: [1], data: [4294967295] },
          { name: 'i32', datatype: 'INT32', shape: [2, 2], data: [[1, 2], [3, 4]] },
          { name: 'u64', datatype: 'UINT64', shape: [1], data: [9007199254740991] },
          { name: 'i64', datatype: 'INT64', shape: [1], data: [-9007199254740991] },
          { name: 'f16', datatype: 'FP16', shape: [2], data: [1.5, -2] },
          { name: 'f32', datatype: 'FP32', shape: [1, 2], data: [[0.5, -0.25]] },
          { name: 'f64', datatype: 'FP64', shape: [1], data: [1e300] },
          { name: 's', datatype: 'BYTES', shape: [2], data: ['a', 'é'] },
        ],
      }),
      undefined,
      LIMITS,
    );
    expect(request.id).toBe('r1');
    const byName = Object.fromEntries(request.inputs.map((input) => [input.name, input.tensor]));
    expect(byName.b).toEqual({ type: 'bool', dims: [2], data: new Uint8Array([1, 0]) });
    expect(byName.i8!.data).toEqual(new Int8Array([-128, 127]));
    expect(byName.i32!.data).toEqual(new Int32Array([1, 2, 3, 4]));
    expect(byName.u64!.data).toEqual(new BigUint64Array([9007199254740991n]));
    expect(byName.i64!.data).toEqual(new BigInt64Array([-9007199254740991n]));
    expect(Array.from(byName.f16!.data as Uint16Array, halfToFloat)).toEqual([1.5, -2]);
    expect(byName.f32).toEqual({ type: 'float32', dims: [1, 2], data: new Float32Array([0.5, -0.25]) });
    expect(byName.f64!.data).toEqual(new Float64Array([1e300]));
    expect(byName.s!.data).toEqual(['a', 'é']);
  });

  it('reads request parameters (binary_data_output, timeout in microseconds, priority) and outputs', () => {
    const request = decodeInferRequest(
      json({
        parameters: { binary_data_output: true, timeout: 2500, priority: 2 },
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }],
        outputs: [{ name: 'y', parameters: { binary_data: false } }, { name: 'z' }],
      }),
      undefined,
      LIMITS,
    );
    expect(request).toMatchObject({ binaryOutputs: true, timeoutMs: 3, priority: 2, outputs: [{ name: 'y', binary: false }, { name: 'z', binary: false }] });
  });

  const bad: [string, unknown, string][] = [
    ['data shorter than shape x datatype', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 16], data: ones(31) }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['data longer than the shape', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1, 2] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['a string in FP32 data', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: ['1'] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['FP32 data past 3.4e38', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1e39] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['UINT8 data of 256', { inputs: [{ name: 'x', datatype: 'UINT8', shape: [1], data: [256] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['INT32 data of 1.5', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1], data: [1.5] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['BOOL data of 1', { inputs: [{ name: 'x', datatype: 'BOOL', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['data that is not an array', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: 1 }] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['a dimension of 2^60', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2 ** 60], data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['dimensions whose product is 2^60', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2 ** 30, 2 ** 30], data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a negative dimension', { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 16], data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a fractional dimension', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1.5], data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a string dimension', { inputs: [{ name: 'x', datatype: 'FP32', shape: ['1'], data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a shape that is not an array', { inputs: [{ name: 'x', datatype: 'FP32', shape: 1, data: [1] }] }, 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['an unknown datatype', { inputs: [{ name: 'x', datatype: 'FP8', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_DATATYPE_UNKNOWN'],
    ['a lower-case datatype', { inputs: [{ name: 'x', datatype: 'fp32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_DATATYPE_UNKNOWN'],
    ['a duplicate input name', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }, { name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['an input without a name', { inputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['an input named __proto__', { inputs: [{ name: '__proto__', datatype: 'FP32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['a duplicate output name', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [{ name: 'y' }, { name: 'y' }] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['no inputs', { inputs: [] }, 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['inputs that are not an array', { inputs: {} }, 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['an input without data', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] }, 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['a numeric id', { id: 7, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['a JSON array at the root', [], 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['binary_data_size without the binary header', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] }, 'EDGE_ERR_V2_BINARY_INVALID'],
  ];
  for (const [what, body, code] of bad) {
    it(`BAD CALL - ${what} -> ${code}`, () => {
      expect(codeOfSync(() => decodeInferRequest(json(body), undefined, LIMITS))).toBe(code);
    });
  }

  const badText: [string, string, string][] = [
    ['a NaN literal', '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[NaN]}]}', 'EDGE_ERR_JSON_INVALID'],
    ['an Infinity literal', '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[Infinity]}]}', 'EDGE_ERR_JSON_INVALID'],
    ['-Infinity', '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[-Infinity]}]}', 'EDGE_ERR_JSON_INVALID'],
    ['truncated JSON', '{"inputs":[{"name":"x"', 'EDGE_ERR_JSON_INVALID'],
    ['a __proto__ key', '{"__proto__":{"polluted":1},"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]}]}', 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['a nested constructor.prototype key', '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"parameters":{"constructor":{"prototype":{}}}}]}', 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['nesting 100 000 deep', '['.repeat(100_000), 'EDGE_ERR_JSON_TOO_DEEP'],
    ['data nested 40 deep', `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":${'['.repeat(40)}1${']'.repeat(40)}}]}`, 'EDGE_ERR_JSON_TOO_DEEP'],
  ];
  for (const [what, text, code] of badText) {
    it(`BAD CALL - ${what} -> ${code}`, () => {
      expect(codeOfSync(() => decodeInferRequest(Buffer.from(text), undefined, LIMITS))).toBe(code);
    });
  }

  it('BAD CALL - an empty body -> EDGE_ERR_BODY_EMPTY', () => {
    expect(codeOfSync(() => decodeInferRequest(Buffer.alloc(0), undefined, LIMITS))).toBe('EDGE_ERR_BODY_EMPTY');
  });
});

describe('decodeInferRequest: binary tensor extension', () => {
  it('takes each input from the binary section in order, copied into aligned arrays', () => {
    const a = new Float32Array([1, 2, 3]);
    const b = new BigInt64Array([5n, -6n]);
    const text = new TextEncoder().encode('hé');
    const bytes = Buffer.concat([Buffer.from([text.byteLength, 0, 0, 0]), Buffer.from(text), Buffer.from([0, 0, 0, 0])]);
    const { body, headerLength } = binaryRequest(
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [3], parameters: { binary_data_size: 12 } },
          { name: 'b', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
          { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: bytes.byteLength } },
          { name: 'j', datatype: 'INT8', shape: [1], data: [3] },
        ],
      },
      new Uint8Array(a.buffer),
      new Uint8Array(b.buffer),
      bytes,
    );
    const request = decodeInferRequest(body, headerLength, LIMITS);
    expect(request.inputs.map((input) => input.tensor.data)).toEqual([a, b, ['hé', ''], new Int8Array([3])]);
  });

  const tensor = new Uint8Array(new Float32Array(16).buffer);
  const header = (size: number) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: size } }] });
  it('BAD CALL - binary_data_size disagrees with shape x datatype -> EDGE_ERR_V2_DATA_MISMATCH', () => {
    const { body, headerLength } = binaryRequest(header(60), tensor.subarray(0, 60));
    expect(codeOfSync(() => decodeInferRequest(body, headerLength, LIMITS))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });
  it('BAD CALL - binary_data_size runs past the body -> EDGE_ERR_V2_BINARY_INVALID', () => {
    const { body, headerLength } = binaryRequest(header(64), tensor.subarray(0, 32));
    expect(codeOfSync(() => decodeInferRequest(body, headerLength, LIMITS))).toBe('EDGE_ERR_V2_BINARY_INVALID');
  });
  it('BAD CALL - bytes left over after the last input -> EDGE_ERR_V2_BINARY_INVALID', () => {
    const { body, headerLength } = binaryRequest(header(64), tensor, new Uint8Array(3));
    expect(codeOfSync(() => decodeInferRequest(body, headerLength, LIMITS))).toBe('EDGE_ERR_V2_BINARY_INVALID');
  });
  it('BAD CALL - BYTES element lengths that run past the tensor -> EDGE_ERR_V2_DATA_MISMATCH', () => {
    const bytes = Buffer.from([200, 0, 0, 0, 65]);
    const { body, headerLength } = binaryRequest({ inputs: [{ name: 's', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 5 } }] }, bytes);
    expect(codeOfSync(() => decodeInferRequest(body, headerLength, LIMITS))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });
  it('BAD CALL - Inference-Header-Content-Length that is not a count, past the body, or 0 -> EDGE_ERR_V2_BINARY_INVALID', () => {
    expect(codeOfSync(() => parseHeaderLength('12abc', 100))).toBe('EDGE_ERR_V2_BINARY_INVALID');
    expect(codeOfSync(() => parseHeaderLength('-1', 100))).toBe('EDGE_ERR_V2_BINARY_INVALID');
    expect(codeOfSync(() => parseHeaderLength('101', 100))).toBe('EDGE_ERR_V2_BINARY_INVALID');
    expect(codeOfSync(() => parseHeaderLength('0', 100))).toBe('EDGE_ERR_V2_BINARY_INVALID');
    expect(parseHeaderLength('100', 100)).toBe(100);
    expect(parseHeaderLength(undefined, 100)).toBeUndefined();
  });
});

describe('checkAgainstSignature', () => {
  const request = (inputs: unknown[], outputs?: unknown[]) =>
    decodeInferRequest(json({ inputs, ...(outputs ? { outputs } : {}) }), undefined, LIMITS);
  const input = (name: string, shape = [1, 16], datatype = 'FP32') => ({ name, datatype, shape, data: ones(shape.reduce((a, b) => a * b, 1)) });

  it('accepts any size on -1 dimensions', () => {
    expect(() => checkAgainstSignature(request([input('INPUT0', [3, 16]), input('INPUT1', [3, 16])]), SUM, 'sum')).not.toThrow();
  });
  it('BAD CALL - a missing input -> EDGE_ERR_V2_TENSOR_NAME_INVALID', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0')]), SUM, 'sum'))).toBe('EDGE_ERR_V2_TENSOR_NAME_INVALID');
  });
  it('BAD CALL - an input the model does not have -> EDGE_ERR_V2_TENSOR_NAME_INVALID', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0'), input('INPUT1'), input('INPUT2')]), SUM, 'sum'))).toBe('EDGE_ERR_V2_TENSOR_NAME_INVALID');
  });
  it('BAD CALL - a fixed dimension that differs -> EDGE_ERR_V2_SHAPE_INVALID', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0', [1, 8]), input('INPUT1')]), SUM, 'sum'))).toBe('EDGE_ERR_V2_SHAPE_INVALID');
  });
  it('BAD CALL - a different rank -> EDGE_ERR_V2_SHAPE_INVALID', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0', [16]), input('INPUT1')]), SUM, 'sum'))).toBe('EDGE_ERR_V2_SHAPE_INVALID');
  });
  it('BAD CALL - a datatype the model does not take -> EDGE_ERR_V2_DATA_MISMATCH', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0', [1, 16], 'FP64'), input('INPUT1')]), SUM, 'sum'))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });
  it('BAD CALL - an output the model does not have -> EDGE_ERR_V2_OUTPUT_UNKNOWN', () => {
    expect(codeOfSync(() => checkAgainstSignature(request([input('INPUT0'), input('INPUT1')], [{ name: 'OUTPUT9' }]), SUM, 'sum'))).toBe('EDGE_ERR_V2_OUTPUT_UNKNOWN');
  });
});

describe('encodeInferResponse', () => {
  const outputs: Record<string, Tensor> = {
    OUTPUT1: { type: 'int64', dims: [2], data: new BigInt64Array([1n, -2n]) },
    OUTPUT0: { type: 'float32', dims: [1, 2], data: new Float32Array([0.5, 1.5]) },
    H: { type: 'float16', dims: [1], data: new Uint16Array([floatToHalf(0.25)]) },
    B: { type: 'bool', dims: [2], data: new Uint8Array([1, 0]) },
  };
  it('answers JSON in the declared order with numbers, booleans and decoded FP16', () => {
    const encoded = encodeInferResponse({ model: 'm', version: '1', id: 'x', outputs, declaredOrder: ['OUTPUT0', 'OUTPUT1', 'H', 'B'], binaryOutputs: false });
    expect(encoded).toEqual({
      kind: 'json',
      body: {
        model_name: 'm',
        model_version: '1',
        id: 'x',
        outputs: [
          { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 2], data: [0.5, 1.5] },
          { name: 'OUTPUT1', datatype: 'INT64', shape: [2], data: [1, -2] },
          { name: 'H', datatype: 'FP16', shape: [1], data: [0.25] },
          { name: 'B', datatype: 'BOOL', shape: [2], data: [true, false] },
        ],
      },
    });
  });
  it('answers the outputs asked in binary after the JSON header, in the requested order', () => {
    const encoded = encodeInferResponse({
      model: 'm',
      version: '1',
      outputs,
      declaredOrder: ['OUTPUT0', 'OUTPUT1'],
      requested: [{ name: 'OUTPUT1', binary: true }, { name: 'OUTPUT0', binary: false }],
      binaryOutputs: false,
    });
    if (encoded.kind !== 'binary') throw new Error('expected a binary answer');
    const header = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString());
    expect(header.outputs).toEqual([
      { name: 'OUTPUT1', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
      { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 2], data: [0.5, 1.5] },
    ]);
    const raw = encoded.body.subarray(encoded.headerLength);
    expect(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))).toEqual(new BigInt64Array([1n, -2n]));
  });
});

describe('FP16 and the JSON guard', () => {
  it('rounds floats to half precision and back', () => {
    for (const value of [0, 1, -1, 0.5, 65504, 2 ** -24, 1 / 3]) {
      expect(halfToFloat(floatToHalf(value))).toBeCloseTo(value, 3);
    }
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });
  it('measures depth outside strings only', () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[[[[["}', 2)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\"[[[[[[","b":[[1]]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"b":[[[1]]]}', 3)).toBe(true);
    expect(parseGuardedJson('{"constructor_name":1}', 4)).toEqual({ constructor_name: 1 });
  });
});
