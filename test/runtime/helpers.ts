/** Shared bits of the runtime tests: fixture paths and tensor builders. */
import path from 'node:path';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import type { LoadModelOptions, Tensor } from '../../services/core/contracts.ts';

export const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'models', 'repository');

export function fixturePath(name: string): string {
  return path.join(FIXTURES, name, '1', 'model.onnx');
}

export function fixture(name: string, overrides: Partial<LoadModelOptions> = {}): LoadModelOptions {
  return { name, version: '1', path: fixturePath(name), maxQueueSize: 32, queueTimeoutMs: 10_000, ...overrides };
}

export function f32(dims: number[], fill: (index: number) => number = () => 0): Tensor {
  const length = dims.reduce((product, dim) => product * dim, 1);
  return { type: 'float32', dims, data: Float32Array.from({ length }, (_, index) => fill(index)) };
}

/** Inputs of the `sum` model: rows of 16, INPUT0 = seed + index, INPUT1 = 2 * index. */
export function sumInputs(rows: number, seed: number): Record<string, Tensor> {
  return { INPUT0: f32([rows, 16], (index) => seed + index), INPUT1: f32([rows, 16], (index) => 2 * index) };
}

/** `slow` inputs; `rows` scales its run time (~80 ms per row on one core here). */
export function slowInputs(rows = 1, seed = 0.5): Record<string, Tensor> {
  return { INPUT0: f32([rows, 256], (index) => Math.sin(seed + index)) };
}

export { codeOf } from '../support/code-of.ts';
