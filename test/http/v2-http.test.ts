/**
 * The Open Inference Protocol over the real stack (runtime workers + registry on the fixture
 * models), through inject(): metadata, health, JSON and binary inference for every datatype,
 * Triton's repository and statistics extensions, metrics, the OpenAPI, and every bad V2 input of
 * reliability.md with its status and code, the server staying live afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { halfToFloat, floatToHalf } from '../../services/http/v2/datatypes.ts';
import { startStack, type Stack } from './helpers.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ runtime: { workers: 1, maxQueueSize: 2 }, models: { load: ['sum', 'int', 'reshape', 'slow'] } });
});
afterAll(async () => {
  await stack?.close();
});

const seq = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

function sumRequest(rows = 1, extra: Record<string, unknown> = {}) {
  return {
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [rows, 16], data: seq(16 * rows) },
      { name: 'INPUT1', datatype: 'FP32', shape: [rows, 16], data: seq(16 * rows).map(() => 1) },
    ],
    ...extra,
  };
}

async function post(url: string, payload: unknown, headers: Record<string, string> = {}) {
  return stack.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
  });
}

function binaryBody(header: unknown, ...chunks: ArrayBufferView[]) {
  const head = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([head, ...chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))]);
  return { body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) } };
}

describe('server, health and model metadata', () => {
  it('GET /v2 names the server and its extensions', async () => {
    const response = await stack.app.inject('/v2');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ name: 'mec-inference', version: '0.1.0', extensions: ['binary_tensor_data', 'model_repository', 'statistics'] });
  });

  it('live and ready answer 200 when every configured model is loaded', async () => {
    expect((await stack.app.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/health/ready')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/models/sum/ready')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/models/sum/versions/1/ready')).statusCode).toBe(200);
  });

  it('model metadata lists tensors with -1 for variable dimensions', async () => {
    const response = await stack.app.inject('/v2/models/sum');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      name: 'sum',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [-1, 16] },
        { name: 'INPUT1', datatype: 'FP32', shape: [-1, 16] },
      ],
      outputs: [
        { name: 'OUTPUT0', datatype: 'FP32', shape: [-1, 16] },
        { name: 'OUTPUT1', datatype: 'FP32', shape: [-1, 16] },
      ],
    });
    const versioned = await stack.app.inject('/v2/models/int/versions/1');
    expect(versioned.json().inputs.map((input: { datatype: string }) => input.datatype)).toEqual([
      'BOOL', 'UINT8', 'INT8', 'INT16', 'UINT16', 'INT32', 'INT64', 'FP16', 'FP64',
    ]);
  });

  it('BAD CALL - metadata of an unknown model or version -> 404 with the V2 error shape', async () => {
    const unknown = await stack.app.inject('/v2/models/nosuchmodel');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: expect.any(String), code: 'EDGE_ERR_MODEL_NOT_FOUND' });
    const version = await stack.app.inject('/v2/models/sum/versions/9');
    expect(version.statusCode).toBe(404);
    expect(version.json().code).toBe('EDGE_ERR_MODEL_VERSION_NOT_FOUND');
    const ready = await stack.app.inject('/v2/models/nosuchmodel/ready');
    expect(ready.statusCode).toBe(404);
  });
});

describe('inference', () => {
  it('JSON in, JSON out: sum and difference, in declared order, with the id echoed', async () => {
    const response = await post('/v2/models/sum/infer', sumRequest(2, { id: 'req-1' }));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.model_name).toBe('sum');
    expect(body.model_version).toBe('1');
    expect(body.id).toBe('req-1');
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT0', 'OUTPUT1']);
    expect(body.outputs[0]).toEqual({ name: 'OUTPUT0', datatype: 'FP32', shape: [2, 16], data: seq(32, 1) });
    expect(body.outputs[1].data).toEqual(seq(32, -1));
  });

  it('nested data and the versioned path work the same', async () => {
    const request = sumRequest(1);
    request.inputs[0]!.data = [seq(16)] as unknown as number[];
    const response = await post('/v2/models/sum/versions/1/infer', request);
    expect(response.statusCode).toBe(200);
    expect(response.json().outputs[0].data).toEqual(seq(16, 1));
  });

  it('only the requested outputs come back, in the requested order', async () => {
    const response = await post('/v2/models/sum/infer', sumRequest(1, { outputs: [{ name: 'OUTPUT1' }] }));
    expect(response.statusCode).toBe(200);
    expect(response.json().outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT1']);
  });

  it('binary tensor extension: binary inputs in, binary and JSON outputs out', async () => {
    const a = new Float32Array(seq(16));
    const b = new Float32Array(16).fill(2);
    const { body, headers } = binaryBody(
      {
        inputs: [
          { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } },
          { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } },
        ],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1' }],
      },
      a,
      b,
    );
    const response = await post('/v2/models/sum/infer', body, headers);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/octet-stream');
    const headerLength = Number(response.headers['inference-header-content-length']);
    const raw = response.rawPayload;
    const header = JSON.parse(raw.subarray(0, headerLength).toString());
    expect(header.outputs).toEqual([
      { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } },
      { name: 'OUTPUT1', datatype: 'FP32', shape: [1, 16], data: seq(16, -2) },
    ]);
    const out = raw.subarray(headerLength);
    expect(out.byteLength).toBe(64);
    expect(Array.from(new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 64)))).toEqual(seq(16, 2));
  });

  it('every datatype of the int model round-trips through JSON', async () => {
    const values: Record<string, unknown[]> = {
      BOOL: [true, false, true, true],
      UINT8: [0, 1, 254, 255],
      INT8: [-128, -1, 0, 127],
      INT16: [-32768, 0, 1, 32767],
      UINT16: [0, 1, 65534, 65535],
      INT32: [-2147483648, 0, 5, 2147483647],
      INT64: [-9007199254740991, 0, 7, 9007199254740991],
      FP16: [0.5, -2, 1024, 0.099975586],
      FP64: [1e-300, -1e300, 0.1, Math.PI],
    };
    const inputs = Object.entries(values).map(([datatype, data]) => ({ name: `IN_${datatype}`, datatype, shape: [1, 4], data }));
    const response = await post('/v2/models/int/infer', { inputs });
    expect(response.statusCode).toBe(200);
    const outputs = Object.fromEntries(response.json().outputs.map((o: { name: string; datatype: string; data: unknown[] }) => [o.name, o]));
    for (const [datatype, data] of Object.entries(values)) {
      expect(outputs[`OUT_${datatype}`].datatype).toBe(datatype);
      expect(outputs[`OUT_${datatype}`].data, datatype).toEqual(datatype === 'FP16' ? data.map((v) => halfToFloat(floatToHalf(v as number))) : data);
    }
  });

  it('every datatype of the int model round-trips through binary, byte for byte', async () => {
    const arrays: Record<string, ArrayBufferView & { byteLength: number }> = {
      BOOL: new Uint8Array([1, 0, 0, 1]),
      UINT8: new Uint8Array([0, 9, 200, 255]),
      INT8: new Int8Array([-128, -5, 5, 127]),
      INT16: new Int16Array([-32768, -1, 1, 32767]),
      UINT16: new Uint16Array([0, 1, 2, 65535]),
      INT32: new Int32Array([-7, 0, 7, 2 ** 31 - 1]),
      INT64: new BigInt64Array([-(2n ** 63n), -1n, 1n, 2n ** 63n - 1n]),
      FP16: new Uint16Array([floatToHalf(1.5), floatToHalf(-0.25), 0x7c00, floatToHalf(65504)]),
      FP64: new Float64Array([Number.MIN_VALUE, -1, NaN, Infinity]),
    };
    const names = Object.keys(arrays);
    const { body, headers } = binaryBody(
      {
        inputs: names.map((datatype) => ({ name: `IN_${datatype}`, datatype, shape: [1, 4], parameters: { binary_data_size: arrays[datatype]!.byteLength } })),
        parameters: { binary_data_output: true },
      },
      ...names.map((datatype) => arrays[datatype]!),
    );
    const response = await post('/v2/models/int/infer', body, headers);
    expect(response.statusCode).toBe(200);
    const headerLength = Number(response.headers['inference-header-content-length']);
    const header = JSON.parse(response.rawPayload.subarray(0, headerLength).toString());
    let offset = headerLength;
    for (const output of header.outputs as { name: string; parameters: { binary_data_size: number } }[]) {
      const datatype = output.name.replace('OUT_', '');
      const expected = arrays[datatype]!;
      const got = response.rawPayload.subarray(offset, offset + output.parameters.binary_data_size);
      offset += output.parameters.binary_data_size;
      expect(Buffer.compare(got, Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)), datatype).toBe(0);
    }
    expect(offset).toBe(response.rawPayload.byteLength);
  });

  it('statistics count what ran (Triton shape)', async () => {
    const response = await stack.app.inject('/v2/models/sum/stats');
    expect(response.statusCode).toBe(200);
    const [stats] = response.json().model_stats;
    expect(stats.name).toBe('sum');
    expect(stats.inference_count).toBeGreaterThanOrEqual(5);
    expect(stats.inference_stats.success.count).toBeGreaterThanOrEqual(1);
    expect(stats.inference_stats.compute_infer.ns).toBeGreaterThan(0);
    const all = await stack.app.inject('/v2/models/stats');
    expect(all.json().model_stats.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['sum', 'int']));
    expect((await stack.app.inject('/v2/models/sum/versions/1/stats')).statusCode).toBe(200);
  });

  it('BAD CALL - a run that onnxruntime refuses -> 500 EDGE_ERR_INFERENCE_FAILED, and the model keeps serving', async () => {
    const bad = await post('/v2/models/reshape/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: seq(16) },
        { name: 'SHAPE', datatype: 'INT64', shape: [2], data: [5, 5] },
      ],
    });
    expect(bad.statusCode).toBe(500);
    expect(bad.json().code).toBe('EDGE_ERR_INFERENCE_FAILED');
    const good = await post('/v2/models/reshape/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: seq(16) },
        { name: 'SHAPE', datatype: 'INT64', shape: [2], data: [4, 4] },
      ],
    });
    expect(good.statusCode).toBe(200);
    expect(good.json().outputs[0].shape).toEqual([4, 4]);
  });

  it('BAD CALL - past the queue limit -> 503 EDGE_ERR_QUEUE_FULL with Retry-After, fast', async () => {
    const slow = { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 256], data: seq(256) }] };
    const responses = await Promise.all(Array.from({ length: 8 }, () => post('/v2/models/slow/infer', slow)));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses).toContain(200);
    expect(statuses).toContain(503);
    for (const response of responses.filter((r) => r.statusCode === 503)) {
      expect(response.json().code).toBe('EDGE_ERR_QUEUE_FULL');
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('repository extension', () => {
  it('index lists every model with its state; unload makes ready 503, load brings it back', async () => {
    const index = await post('/v2/repository/index', '');
    expect(index.statusCode).toBe(200);
    expect(index.json().map((e: { name: string }) => e.name)).toEqual(expect.arrayContaining(['sum', 'int', 'slow', 'reshape']));

    expect((await post('/v2/repository/models/int/unload', '')).statusCode).toBe(200);
    const notReady = await stack.app.inject('/v2/health/ready');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().code).toBe('EDGE_ERR_MODEL_NOT_READY');
    expect(notReady.headers['retry-after']).toBeDefined();
    expect((await stack.app.inject('/v2/models/int/ready')).statusCode).toBe(503);
    const readyOnly = await post('/v2/repository/index', { ready: true });
    expect(readyOnly.json().map((e: { name: string }) => e.name)).not.toContain('int');

    expect((await post('/v2/repository/models/int/load', '')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/health/ready')).statusCode).toBe(200);
  });

  it('BAD CALL - load of an unknown model -> 404 EDGE_ERR_MODEL_NOT_FOUND', async () => {
    const response = await post('/v2/repository/models/nosuchmodel/load', '');
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('EDGE_ERR_MODEL_NOT_FOUND');
  });
});

describe('bad V2 inputs: documented status and code, never a crash', () => {
  const tooLong = 'm'.repeat(256);
  const badNames: [string, string][] = [
    // A bare '..' or '%2e%2e' segment is resolved by inject's URL parser before the server sees
    // it; test/http/transport.test.ts sends those raw over a socket.
    ['dot-dot inside', 'a..b'],
    ['encoded dot-dot slash', '%2e%2e%2fetc%2fpasswd'],
    ['encoded slash', 'sum%2F..'],
    ['encoded backslash', '..%5Csum'],
    ['NUL', 'sum%00'],
    ['a space', 'su%20m'],
    ['a tab', 'sum%09'],
    ['a newline', 'sum%0a'],
    ['256 characters', tooLong],
    ['129 characters', 'm'.repeat(129)],
    ['double percent-encoding (decoded once, never twice)', '%252e%252e%252fetc'],
    ['a leading dot', '.hidden'],
  ];
  for (const [what, name] of badNames) {
    it(`BAD CALL - model name with ${what} -> 400 EDGE_ERR_MODEL_NAME_INVALID on every model route`, async () => {
      const urls = [
        ['GET', `/v2/models/${name}`],
        ['GET', `/v2/models/${name}/ready`],
        ['GET', `/v2/models/${name}/stats`],
        ['GET', `/v2/models/sum/versions/${name}`],
        ['POST', `/v2/models/${name}/infer`],
        ['POST', `/v2/models/${name}/versions/1/infer`],
        ['POST', `/v2/repository/models/${name}/load`],
        ['POST', `/v2/repository/models/${name}/unload`],
      ] as const;
      for (const [method, url] of urls) {
        const response = await stack.app.inject({ method, url, headers: { 'content-type': 'application/json' }, payload: method === 'POST' ? JSON.stringify(sumRequest()) : undefined });
        expect(response.statusCode, `${method} ${url}`).toBe(400);
        expect(response.json().code, `${method} ${url}`).toBe('EDGE_ERR_MODEL_NAME_INVALID');
      }
    });
  }

  it('BAD CALL - a model name with broken percent-encoding -> 400 EDGE_ERR_REQUEST_MALFORMED', async () => {
    const response = await stack.app.inject('/v2/models/%zz/ready');
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('EDGE_ERR_REQUEST_MALFORMED');
  });

  const shape = (dims: unknown, data: unknown = seq(16)) => ({
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: dims, data },
      { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: seq(16) },
    ],
  });
  const cases: [string, unknown, string][] = [
    ['shape x datatype disagrees with the data', shape([2, 16]), 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['a dimension of 2^60', shape([2 ** 60, 16]), 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a negative dimension', shape([-1, 16]), 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a fractional dimension', shape([0.5, 16]), 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['a fixed dimension the model does not take', shape([2, 8]), 'EDGE_ERR_V2_SHAPE_INVALID'],
    ['an unknown datatype', { inputs: [{ name: 'INPUT0', datatype: 'FLOAT', shape: [1, 16], data: seq(16) }] }, 'EDGE_ERR_V2_DATATYPE_UNKNOWN'],
    ['a datatype the model does not take', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: seq(16) }, shape([1, 16]).inputs[1]] }, 'EDGE_ERR_V2_DATA_MISMATCH'],
    ['a duplicate input name', { inputs: [shape([1, 16]).inputs[0], shape([1, 16]).inputs[0]] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['a missing input', { inputs: [shape([1, 16]).inputs[0]] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['an input the model does not have', { inputs: [...shape([1, 16]).inputs, { name: 'EXTRA', datatype: 'FP32', shape: [1], data: [1] }] }, 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
    ['an unknown requested output', { ...shape([1, 16]), outputs: [{ name: 'OUTPUT7' }] }, 'EDGE_ERR_V2_OUTPUT_UNKNOWN'],
    ['no inputs at all', { inputs: [] }, 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['a JSON string instead of an object', '"hello"', 'EDGE_ERR_V2_REQUEST_INVALID'],
  ];
  for (const [what, body, code] of cases) {
    it(`BAD CALL - ${what} -> 400 ${code}`, async () => {
      const response = await post('/v2/models/sum/infer', body);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: expect.any(String), code });
    });
  }

  const texts: [string, string, string][] = [
    ['a NaN literal', '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":[NaN]}]}', 'EDGE_ERR_JSON_INVALID'],
    ['an Infinity literal', '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1],"data":[Infinity]}]}', 'EDGE_ERR_JSON_INVALID'],
    ['truncated JSON', '{"inputs":[{"name":', 'EDGE_ERR_JSON_INVALID'],
    ['a __proto__ key', '{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1],"__proto__":{"x":1}}]}', 'EDGE_ERR_V2_REQUEST_INVALID'],
    ['a tensor named __proto__', '{"inputs":[{"name":"__proto__","datatype":"FP32","shape":[1],"data":[1]}]}', 'EDGE_ERR_V2_TENSOR_NAME_INVALID'],
  ];
  for (const [what, text, code] of texts) {
    it(`BAD CALL - ${what} -> 400 ${code}`, async () => {
      const response = await post('/v2/models/sum/infer', text);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe(code);
    });
  }

  it('BAD CALL - JSON nested a million deep -> fast 400 EDGE_ERR_JSON_TOO_DEEP, checked before parsing', async () => {
    const started = performance.now();
    const response = await post('/v2/models/sum/infer', `{"inputs":${'['.repeat(1_000_000)}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('EDGE_ERR_JSON_TOO_DEEP');
    // Generous: the point is that nothing deep is built; a parse would throw RangeError instead.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('BAD CALL - an empty body -> 400 EDGE_ERR_BODY_EMPTY', async () => {
    const response = await post('/v2/models/sum/infer', '');
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('EDGE_ERR_BODY_EMPTY');
  });

  it('BAD CALL - binary sizes that disagree with the shape or the body -> 400', async () => {
    const tensor = new Float32Array(16);
    const header = (size: number) => ({
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: size } },
        { name: 'INPUT1', datatype: 'FP32', shape: [1, 16], data: seq(16) },
      ],
    });
    const short = binaryBody(header(60), tensor.subarray(0, 15));
    const mismatch = await post('/v2/models/sum/infer', short.body, short.headers);
    expect(mismatch.json().code).toBe('EDGE_ERR_V2_DATA_MISMATCH');
    const past = binaryBody(header(64), tensor.subarray(0, 8));
    expect((await post('/v2/models/sum/infer', past.body, past.headers)).json().code).toBe('EDGE_ERR_V2_BINARY_INVALID');
    const badHeader = await post('/v2/models/sum/infer', short.body, { ...short.headers, 'inference-header-content-length': '99999999' });
    expect(badHeader.statusCode).toBe(400);
    expect(badHeader.json().code).toBe('EDGE_ERR_V2_BINARY_INVALID');
  });

  it('BAD CALL - an unknown route -> 404 EDGE_ERR_ROUTE_NOT_FOUND in the V2 shape', async () => {
    const response = await stack.app.inject('/v2/nothing/here');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: expect.any(String), code: 'EDGE_ERR_ROUTE_NOT_FOUND' });
  });

  it('after all of the above the server is live and every model still serves', async () => {
    expect((await stack.app.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/health/ready')).statusCode).toBe(200);
    expect((await post('/v2/models/sum/infer', sumRequest())).statusCode).toBe(200);
  });
});

describe('metrics and docs', () => {
  it('GET /metrics exposes Triton counters, phase histograms, HTTP counts and pool gauges', async () => {
    const response = await stack.app.inject('/metrics');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const text = response.body;
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^nv_inference_request_success\{model="sum",version="1"\} (\S+)$/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^nv_inference_count\{model="sum",version="1"\} (\S+)$/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^nv_inference_compute_infer_duration_us\{model="sum",version="1"\} (\S+)$/m)).toBeGreaterThan(0);
    expect(value(/^nv_inference_request_failure\{model="slow",version="1",code="EDGE_ERR_QUEUE_FULL"\} (\S+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^nv_inference_request_failure\{model="reshape",version="1",code="EDGE_ERR_INFERENCE_FAILED"\} (\S+)$/m)).toBe(1);
    expect(value(/^mec_request_phase_seconds_count\{task="v2-infer",model="sum",phase="infer"\} (\S+)$/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^mec_http_requests_total\{route="\/v2\/models\/:model\/infer",method="POST",status_code="200"\} (\S+)$/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^mec_http_requests_total\{route="\/v2\/models\/:model\/infer",method="POST",status_code="400"\} (\S+)$/m)).toBeGreaterThanOrEqual(10);
    expect(value(/^mec_runtime_workers (\S+)$/m)).toBe(1);
    // The scrape itself is the only request in flight.
    expect(value(/^mec_http_requests_in_flight (\S+)$/m)).toBe(1);
  });

  it('GET /docs/json documents every route, with schemas', async () => {
    const response = await stack.app.inject('/docs/json');
    expect(response.statusCode).toBe(200);
    const spec = response.json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/vision/detect', '/v1/vision/faces', '/v2', '/v2/health/live', '/v2/health/ready',
        '/v2/models/{model}', '/v2/models/{model}/versions/{version}', '/v2/models/{model}/ready',
        '/v2/models/{model}/infer', '/v2/models/{model}/versions/{version}/infer', '/v2/models/stats',
        '/v2/models/{model}/stats', '/v2/repository/index', '/v2/repository/models/{model}/load',
        '/v2/repository/models/{model}/unload', '/metrics',
      ]),
    );
    const infer = spec.paths['/v2/models/{model}/infer'].post;
    expect(infer.requestBody.content['application/json'].schema.properties.inputs).toBeDefined();
    expect(spec.paths['/v1/vision/detect'].post.responses['200'].content['application/json'].schema.properties.detections).toBeDefined();
    expect((await stack.app.inject('/docs')).statusCode).toBeLessThan(400);
  });
});
