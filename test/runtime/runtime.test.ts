/**
 * The runtime with real onnxruntime sessions in real worker threads: correctness, signatures,
 * datatypes, input checks before queueing, inference and load failures.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../../services/core/contracts.ts';
import { loadConfig } from '../../services/core/config.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { codeOf, f32, fixture, FIXTURES, sumInputs } from './helpers.ts';

let runtime: OnnxRuntime;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'mec-runtime-'));
  runtime = createRuntime(loadConfig({ runtime: { workers: 2, intraOpThreads: 1 } }));
  await runtime.load(fixture('sum'));
  await runtime.load(fixture('int'));
  await runtime.load(fixture('reshape'));
});

afterAll(async () => {
  await runtime?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('runtime: sum model', () => {
  it('adds and subtracts, row by row', async () => {
    const result = await runtime.infer('sum', '1', sumInputs(3, 10));
    const out0 = result.outputs.OUTPUT0!;
    const out1 = result.outputs.OUTPUT1!;
    expect(out0.type).toBe('float32');
    expect(out0.dims).toEqual([3, 16]);
    expect(Array.from(out0.data as Float32Array)).toEqual(Array.from({ length: 48 }, (_, i) => 10 + i + 2 * i));
    expect(Array.from(out1.data as Float32Array)).toEqual(Array.from({ length: 48 }, (_, i) => 10 + i - 2 * i));
    expect(result.batchSize).toBe(1);
    expect(result.timings.queue_ms).toBeGreaterThanOrEqual(0);
    expect(result.timings.infer_ms).toBeGreaterThan(0);
  });

  it('returns only the outputs asked for', async () => {
    const result = await runtime.infer('sum', '1', sumInputs(1, 0), { outputs: ['OUTPUT1'] });
    expect(Object.keys(result.outputs)).toEqual(['OUTPUT1']);
  });

  it('reports the signature with -1 for the symbolic batch dim', () => {
    expect(runtime.signature('sum', '1')).toEqual({
      inputs: [
        { name: 'INPUT0', type: 'float32', dims: [-1, 16] },
        { name: 'INPUT1', type: 'float32', dims: [-1, 16] },
      ],
      outputs: [
        { name: 'OUTPUT0', type: 'float32', dims: [-1, 16] },
        { name: 'OUTPUT1', type: 'float32', dims: [-1, 16] },
      ],
    });
    expect(runtime.signature('sum', '2')).toBeUndefined();
  });

  it('transfers whole-buffer inputs and copies views into larger buffers', async () => {
    const owned = f32([1, 16], (i) => i);
    const big = new Float32Array(64).fill(1);
    const view: Tensor = { type: 'float32', dims: [1, 16], data: big.subarray(16, 32) };
    const result = await runtime.infer('sum', '1', { INPUT0: owned, INPUT1: view });
    expect(owned.data.length).toBe(0); // detached: it moved to the worker
    expect(big.length).toBe(64); // the caller's larger buffer is untouched
    expect((result.outputs.OUTPUT0!.data as Float32Array)[15]).toBe(16);
  });

  it('counts Triton-style statistics', async () => {
    const before = runtime.stats().find((stats) => stats.name === 'sum')!;
    await runtime.infer('sum', '1', sumInputs(2, 0));
    const after = runtime.stats().find((stats) => stats.name === 'sum')!;
    expect(after.inference_count - before.inference_count).toBe(2); // rows, as Triton counts
    expect(after.execution_count - before.execution_count).toBe(1);
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(1);
    expect(after.inference_stats.compute_infer.ns).toBeGreaterThan(before.inference_stats.compute_infer.ns);
    expect(after.last_inference).toBeGreaterThan(0);
  });

  it('reports utilisation and per-model memory', () => {
    expect(runtime.utilisation()).toEqual({ workers: 2, busyWorkers: 0, queued: 0 });
    const models = runtime.loadedModels();
    expect(models.map((model) => model.name).sort()).toEqual(['int', 'reshape', 'sum']);
    for (const model of models) expect(model.rssDeltaBytes).toBeGreaterThanOrEqual(0);
  });
});

describe('runtime: datatypes (int model)', () => {
  it('round-trips BOOL, UINT8, INT8, INT16, UINT16, INT32, INT64, FP16 and FP64', async () => {
    const inputs: Record<string, Tensor> = {
      IN_BOOL: { type: 'bool', dims: [2, 4], data: Uint8Array.from([1, 0, 1, 0, 0, 1, 0, 1]) },
      IN_UINT8: { type: 'uint8', dims: [2, 4], data: Uint8Array.from([0, 1, 254, 255, 7, 8, 9, 10]) },
      IN_INT8: { type: 'int8', dims: [2, 4], data: Int8Array.from([-128, -1, 0, 127, 1, 2, 3, 4]) },
      IN_INT16: { type: 'int16', dims: [2, 4], data: Int16Array.from([-32768, -1, 0, 32767, 1, 2, 3, 4]) },
      IN_UINT16: { type: 'uint16', dims: [2, 4], data: Uint16Array.from([0, 1, 65534, 65535, 1, 2, 3, 4]) },
      IN_INT32: { type: 'int32', dims: [2, 4], data: Int32Array.from([-2147483648, -1, 0, 2147483647, 1, 2, 3, 4]) },
      IN_INT64: { type: 'int64', dims: [2, 4], data: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n, 1n, 2n, 3n, 4n]) },
      IN_FP16: { type: 'float16', dims: [2, 4], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0, 1, 2, 3, 4]) },
      IN_FP64: { type: 'float64', dims: [2, 4], data: Float64Array.from([Math.PI, -0.5, 1e300, 0, 1, 2, 3, 4]) },
    };
    const expected = Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name.replace('IN_', 'OUT_'), Array.from(tensor.data as never)]));
    const result = await runtime.infer('int', '1', inputs);
    for (const [name, values] of Object.entries(expected)) {
      const output = result.outputs[name]!;
      expect(output.dims).toEqual([2, 4]);
      expect(Array.from(output.data as never)).toEqual(values);
    }
    expect(result.outputs.OUT_INT64!.data).toBeInstanceOf(BigInt64Array);
    expect(result.outputs.OUT_FP16!.type).toBe('float16');
  });
});

describe('runtime: inputs are checked before they are queued', () => {
  const good = (): Record<string, Tensor> => sumInputs(1, 0);

  it('BAD CALL - unknown input name -> EDGE_ERR_V2_TENSOR_NAME_INVALID', async () => {
    expect(await codeOf(runtime.infer('sum', '1', { ...good(), EXTRA: f32([1, 16]) }))).toBe('EDGE_ERR_V2_TENSOR_NAME_INVALID');
  });

  it('BAD CALL - missing input -> EDGE_ERR_V2_TENSOR_NAME_INVALID', async () => {
    expect(await codeOf(runtime.infer('sum', '1', { INPUT0: f32([1, 16]) }))).toBe('EDGE_ERR_V2_TENSOR_NAME_INVALID');
  });

  it('BAD CALL - __proto__ as an input name -> EDGE_ERR_V2_TENSOR_NAME_INVALID', async () => {
    const inputs = JSON.parse('{"__proto__": {"type":"float32","dims":[1,16],"data":[]}}') as Record<string, Tensor>;
    Object.assign(inputs, good());
    expect(await codeOf(runtime.infer('sum', '1', inputs))).toBe('EDGE_ERR_V2_TENSOR_NAME_INVALID');
  });

  it('BAD CALL - wrong fixed dim, wrong rank, negative or fractional dims -> EDGE_ERR_V2_SHAPE_INVALID', async () => {
    for (const dims of [[1, 15], [16], [1, 16, 1], [-1, 16], [0.5, 16], [2 ** 60, 16]]) {
      const inputs = { INPUT0: { type: 'float32' as const, dims, data: new Float32Array(16) }, INPUT1: f32([1, 16]) };
      expect(await codeOf(runtime.infer('sum', '1', inputs)), JSON.stringify(dims)).toBe('EDGE_ERR_V2_SHAPE_INVALID');
    }
  });

  it('BAD CALL - wrong type or too few elements -> EDGE_ERR_V2_DATA_MISMATCH', async () => {
    const wrongType = { INPUT0: { type: 'int32' as const, dims: [1, 16], data: new Int32Array(16) }, INPUT1: f32([1, 16]) };
    expect(await codeOf(runtime.infer('sum', '1', wrongType))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
    const wrongArray = { INPUT0: { type: 'float32' as const, dims: [1, 16], data: new Float64Array(16) }, INPUT1: f32([1, 16]) };
    expect(await codeOf(runtime.infer('sum', '1', wrongArray))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
    const short = { INPUT0: { type: 'float32' as const, dims: [2, 16], data: new Float32Array(16) }, INPUT1: f32([2, 16]) };
    expect(await codeOf(runtime.infer('sum', '1', short))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });

  it('BAD CALL - unknown output -> EDGE_ERR_V2_OUTPUT_UNKNOWN', async () => {
    expect(await codeOf(runtime.infer('sum', '1', good(), { outputs: ['OUTPUT9'] }))).toBe('EDGE_ERR_V2_OUTPUT_UNKNOWN');
  });

  it('BAD CALL - unknown model or version -> EDGE_ERR_MODEL_NOT_FOUND / _VERSION_NOT_FOUND', async () => {
    expect(await codeOf(runtime.infer('nope', '1', good()))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(runtime.infer('sum', '7', good()))).toBe('EDGE_ERR_MODEL_VERSION_NOT_FOUND');
  });

  it('rejected requests never reached a worker', () => {
    const sum = runtime.stats().find((stats) => stats.name === 'sum')!;
    expect(sum.inference_stats.fail.count).toBeGreaterThanOrEqual(10);
    expect(sum.execution_count).toBe(sum.inference_stats.success.count);
  });
});

describe('runtime: failures', () => {
  it('BAD CALL - a run onnxruntime rejects -> EDGE_ERR_INFERENCE_FAILED, and the model keeps serving', async () => {
    const bad = { INPUT0: f32([1, 16]), SHAPE: { type: 'int64' as const, dims: [2], data: BigInt64Array.from([5n, 5n]) } };
    expect(await codeOf(runtime.infer('reshape', '1', bad))).toBe('EDGE_ERR_INFERENCE_FAILED');
    const good = { INPUT0: f32([1, 16], (i) => i), SHAPE: { type: 'int64' as const, dims: [2], data: BigInt64Array.from([4n, 4n]) } };
    const result = await runtime.infer('reshape', '1', good);
    expect(result.outputs.OUTPUT0!.dims).toEqual([4, 4]);
    expect(runtime.stats().find((stats) => stats.name === 'reshape')!.inference_stats.fail.count).toBe(1);
  });

  it('BAD CALL - a file that is not ONNX -> EDGE_ERR_MODEL_LOAD_FAILED, others keep serving', async () => {
    const file = path.join(scratch, 'garbage.onnx');
    await writeFile(file, 'this is not a protobuf');
    expect(await codeOf(runtime.load({ ...fixture('garbage'), path: file }))).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(await codeOf(runtime.load({ ...fixture('missing'), path: path.join(scratch, 'missing.onnx') }))).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(runtime.loadedModels().map((model) => model.name).sort()).toEqual(['int', 'reshape', 'sum']);
    expect((await runtime.infer('sum', '1', sumInputs(1, 1))).outputs.OUTPUT0!.dims).toEqual([1, 16]);
  });

  it('BAD CALL - a model that loads but cannot run is refused by the warm-up (EDGE_ERR_MODEL_LOAD_FAILED); others keep serving', async () => {
    const unrunnable = path.join(FIXTURES, '..', 'unrunnable', 'model.onnx');
    const failure = runtime.load({ ...fixture('unrunnable'), path: unrunnable });
    await expect(failure).rejects.toThrow(/loads but fails to run/);
    expect(await codeOf(runtime.load({ ...fixture('unrunnable'), path: unrunnable }))).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(runtime.loadedModels().map((model) => model.name)).not.toContain('unrunnable');
    expect((await runtime.infer('sum', '1', sumInputs(1, 1))).outputs.OUTPUT0!.dims).toEqual([1, 16]);

    // Without the warm-up the same file loads, and fails at its first request instead.
    const cold = createRuntime(loadConfig({ runtime: { workers: 1, intraOpThreads: 1, warmup: false } }));
    try {
      await cold.load({ ...fixture('unrunnable'), path: unrunnable });
      expect(await codeOf(cold.infer('unrunnable', '1', { INPUT0: f32([1, 16]) }))).toBe('EDGE_ERR_INFERENCE_FAILED');
    } finally {
      await cold.close();
    }
  });

  it('BAD CALL - invalid load options -> EDGE_ERR_MODEL_LOAD_FAILED before touching a worker', async () => {
    expect(await codeOf(runtime.load({ ...fixture('sum'), version: '9', path: 'relative/model.onnx' }))).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
    expect(await codeOf(runtime.load({ ...fixture('sum'), version: '9', maxQueueSize: 0 }))).toBe('EDGE_ERR_MODEL_LOAD_FAILED');
  });

  it('unloads a model and then answers EDGE_ERR_MODEL_NOT_FOUND', async () => {
    await runtime.load(fixture('sum', { name: 'sum-copy' }));
    await runtime.infer('sum-copy', '1', sumInputs(1, 0));
    await runtime.unload('sum-copy', '1');
    expect(await codeOf(runtime.infer('sum-copy', '1', sumInputs(1, 0)))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(runtime.unload('sum-copy', '1'))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
  });
});
