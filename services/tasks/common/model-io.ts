/**
 * Checks every task's model binding shares: finding a declared tensor, refusing a model whose
 * signature a task cannot drive, and reading a model's float32 output of the expected size.
 */
import type { Tensor, TensorSpec } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';

export function unsuitable(model: string, why: string): EdgeError {
  return new EdgeError('EDGE_ERR_MODEL_UNSUITABLE', `model ${model} cannot serve this task: ${why}`, { details: { model } });
}

export function findSpec(specs: readonly TensorSpec[], name: string): TensorSpec | undefined {
  return specs.find((spec) => spec.name === name);
}

/** A float32 output of the expected element count, or EDGE_ERR_INFERENCE_FAILED. */
export function floatOutput(outputs: Record<string, Tensor>, name: string, length: number): Float32Array {
  const tensor = outputs[name];
  if (!tensor || !(tensor.data instanceof Float32Array) || tensor.data.length !== length) {
    const got = tensor ? `${tensor.type} with ${tensor.data.length} elements` : 'nothing';
    throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `output ${name}: expected ${length} float32 values, got ${got}`);
  }
  return tensor.data;
}
