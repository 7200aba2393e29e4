/**
 * 8-bit pixels standing for float32 inputs (Tensor.pixels): widened on the worker thread with one
 * scale/offset or one per channel, along any axis; checked before queueing like any other tensor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PixelEncoding, Tensor } from '../../services/core/contracts.ts';
import { loadConfig } from '../../services/core/config.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import path from 'node:path';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { codeOf, f32, fixture } from './helpers.ts';

let runtime: OnnxRuntime;

beforeAll(async () => {
  runtime = createRuntime(loadConfig({ runtime: { workers: 1, intraOpThreads: 1 } }));
  await runtime.load(fixture('sum'));
  // A real NCHW image model for the interleaved layout: the defect model, [n, 3, 256, 256].
  await runtime.load({ ...fixture('defect'), path: path.join(PROJECT_ROOT, 'models', 'repository', 'defect', '1', 'model.onnx') });
});

afterAll(() => runtime?.close());

/** sum's INPUT0 as pixels (INPUT1 zeros), so OUTPUT0 is exactly the widened INPUT0. */
function pixelInputs(rows: number, pixels: PixelEncoding, data?: Uint8Array): Record<string, Tensor> {
  const bytes = data ?? Uint8Array.from({ length: rows * 16 }, (_, i) => (i * 37) % 256);
  return { INPUT0: { type: 'float32', dims: [rows, 16], data: bytes, pixels }, INPUT1: f32([rows, 16]) };
}

async function widened(rows: number, pixels: PixelEncoding): Promise<{ bytes: Uint8Array; values: number[] }> {
  const inputs = pixelInputs(rows, pixels);
  const bytes = (inputs.INPUT0!.data as Uint8Array).slice();
  const result = await runtime.infer('sum', '1', inputs, { outputs: ['OUTPUT0'] });
  return { bytes, values: Array.from(result.outputs.OUTPUT0!.data as Float32Array) };
}

describe('pixel inputs', () => {
  it('one scale and offset for every element', async () => {
    const { bytes, values } = await widened(2, { scale: [1 / 127.5], offset: [-1], channelAxis: 1 });
    expect(values).toEqual(Array.from(bytes, (byte) => Math.fround(byte * (1 / 127.5) - 1)));
  });

  it('one scale and offset per channel along the last axis', async () => {
    const scale = Array.from({ length: 16 }, (_, c) => c + 1);
    const offset = Array.from({ length: 16 }, (_, c) => -c);
    const { bytes, values } = await widened(3, { scale, offset, channelAxis: 1 });
    expect(values).toEqual(Array.from(bytes, (byte, i) => byte * scale[i % 16]! + offset[i % 16]!));
  });

  it('one scale and offset per channel along the first axis (planar layout)', async () => {
    const { bytes, values } = await widened(2, { scale: [2, 3], offset: [0, 1000], channelAxis: 0 });
    expect(values).toEqual(Array.from(bytes, (byte, i) => (i < 16 ? byte * 2 : byte * 3 + 1000)));
  });

  it('interleaved pixels (n, h, w, c) give the model exactly what planar ones do: the worker makes the planes', async () => {
    const [batch, side] = [2, 256];
    const plane = side * side;
    const interleaved = Uint8Array.from({ length: batch * plane * 3 }, (_, i) => (i * 131 + (i >> 9)) % 256);
    const planar = new Uint8Array(interleaved.length);
    for (let n = 0; n < batch; n++) {
      for (let pixel = 0; pixel < plane; pixel++) {
        for (let c = 0; c < 3; c++) planar[n * 3 * plane + c * plane + pixel] = interleaved[n * 3 * plane + pixel * 3 + c]!;
      }
    }
    const encoding = { scale: [1 / 255, 2 / 255, 1 / 255], offset: [0, -0.5, 0.25], channelAxis: 1 };
    const run = async (data: Uint8Array, pixels: PixelEncoding) =>
      (await runtime.infer('defect', '1', { image: { type: 'float32', dims: [batch, 3, side, side], data, pixels } })).outputs;
    const fromPlanar = await run(planar, encoding);
    const fromInterleaved = await run(interleaved, { ...encoding, interleaved: true });
    expect(Array.from(fromInterleaved.score!.data as Float32Array)).toEqual(Array.from(fromPlanar.score!.data as Float32Array));
    expect(Array.from(fromInterleaved.defect_map!.data as Float32Array)).toEqual(Array.from(fromPlanar.defect_map!.data as Float32Array));
  });

  it('BAD CALL - interleaved pixels whose dims are not planar [n, c, h, w] with channelAxis 1 -> EDGE_ERR_V2_DATA_MISMATCH', async () => {
    expect(await codeOf(runtime.infer('sum', '1', pixelInputs(1, { scale: [1], offset: [0], channelAxis: 1, interleaved: true })))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });

  it('BAD CALL - pixels that are not a Uint8Array, or scales of the wrong length, or a wrong axis -> EDGE_ERR_V2_DATA_MISMATCH', async () => {
    const good: PixelEncoding = { scale: [1], offset: [0], channelAxis: 1 };
    const cases: Array<Record<string, Tensor>> = [
      { ...pixelInputs(1, good), INPUT0: { type: 'float32', dims: [1, 16], data: new Float32Array(16), pixels: good } },
      pixelInputs(1, { scale: [1, 2], offset: [0], channelAxis: 1 }),
      pixelInputs(1, { scale: [1], offset: [Number.NaN], channelAxis: 1 }),
      pixelInputs(1, { scale: [1], offset: [0], channelAxis: 2 }),
      pixelInputs(1, { scale: [1], offset: [0], channelAxis: 0.5 }),
      { ...pixelInputs(1, good), INPUT0: { type: 'int32', dims: [1, 16], data: new Uint8Array(16), pixels: good } },
    ];
    for (const inputs of cases) expect(await codeOf(runtime.infer('sum', '1', inputs))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });

  it('BAD CALL - pixels whose count disagrees with the shape -> EDGE_ERR_V2_DATA_MISMATCH', async () => {
    const inputs = pixelInputs(1, { scale: [1], offset: [0], channelAxis: 1 }, new Uint8Array(15));
    expect(await codeOf(runtime.infer('sum', '1', inputs))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });
});
