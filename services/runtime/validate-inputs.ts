/**
 * Checks a request's tensors against the model's signature before it is queued, so that a bad
 * tensor is answered with a precise 400-class code and never reaches onnxruntime.
 */
import type { ModelSignature, Tensor } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import { dataMatchesType, elementCount } from './tensor-types.ts';

export function validateInputs(model: string, signature: ModelSignature, inputs: Record<string, Tensor>, outputs: readonly string[] | undefined): void {
  if (inputs === null || typeof inputs !== 'object') {
    throw new EdgeError('EDGE_ERR_V2_REQUEST_INVALID', `inputs of ${model} must be an object of tensors`);
  }
  const declared = new Set(signature.inputs.map((spec) => spec.name));
  for (const name of Object.keys(inputs)) {
    if (!declared.has(name)) {
      throw new EdgeError('EDGE_ERR_V2_TENSOR_NAME_INVALID', `model ${model} has no input "${name}"`, {
        details: { input: name, expected: [...declared] },
      });
    }
  }
  for (const spec of signature.inputs) {
    if (!Object.hasOwn(inputs, spec.name)) {
      throw new EdgeError('EDGE_ERR_V2_TENSOR_NAME_INVALID', `model ${model} needs input "${spec.name}"`, {
        details: { input: spec.name, expected: [...declared] },
      });
    }
    const tensor = inputs[spec.name]!;
    const dims = tensor?.dims;
    if (!Array.isArray(dims) || dims.length !== spec.dims.length || dims.some((dim, axis) => !Number.isSafeInteger(dim) || dim < 0 || (spec.dims[axis] !== -1 && spec.dims[axis] !== dim))) {
      throw new EdgeError('EDGE_ERR_V2_SHAPE_INVALID', `input "${spec.name}" of ${model} must have shape [${spec.dims.join(',')}] (-1: any), got [${Array.isArray(dims) ? dims.join(',') : String(dims)}]`, {
        details: { input: spec.name, expected: spec.dims, got: Array.isArray(dims) ? dims : null },
      });
    }
    if (tensor.type !== spec.type) {
      throw new EdgeError('EDGE_ERR_V2_DATA_MISMATCH', `input "${spec.name}" of ${model} must be ${spec.type}, got ${String(tensor.type)}`, {
        details: { input: spec.name, expected: spec.type, got: tensor.type },
      });
    }
    if (tensor.pixels !== undefined) {
      checkPixels(model, spec.name, tensor);
    } else if (!dataMatchesType(spec.type, tensor.data)) {
      throw new EdgeError('EDGE_ERR_V2_DATA_MISMATCH', `data of input "${spec.name}" is not an array of ${spec.type}`, {
        details: { input: spec.name, expected: spec.type },
      });
    }
    const count = elementCount(dims);
    if (!Number.isFinite(count) || tensor.data.length !== count) {
      throw new EdgeError('EDGE_ERR_V2_DATA_MISMATCH', `input "${spec.name}" of ${model} has ${tensor.data.length} elements, its shape [${dims.join(',')}] needs ${count}`, {
        details: { input: spec.name, elements: tensor.data.length, expected: count },
      });
    }
  }
  if (outputs !== undefined) {
    const known = new Set(signature.outputs.map((spec) => spec.name));
    for (const name of outputs) {
      if (!known.has(name)) {
        throw new EdgeError('EDGE_ERR_V2_OUTPUT_UNKNOWN', `model ${model} has no output "${name}"`, { details: { output: name, expected: [...known] } });
      }
    }
  }
}

/** Pixels widened on the worker: a Uint8Array for a float32 input, one scale/offset or one per channel. */
function checkPixels(model: string, input: string, tensor: Tensor): void {
  const { pixels, dims } = tensor;
  const fail = (why: string): never => {
    throw new EdgeError('EDGE_ERR_V2_DATA_MISMATCH', `pixel input "${input}" of ${model}: ${why}`, { details: { input } });
  };
  if (tensor.type !== 'float32') fail('pixels stand only for float32 inputs');
  if (!(tensor.data instanceof Uint8Array)) fail('pixel data must be a Uint8Array');
  const axis = pixels!.channelAxis;
  if (!Number.isInteger(axis) || axis < 0 || axis >= dims.length) fail(`channelAxis ${axis} is not an axis of [${dims.join(',')}]`);
  const channels = dims[axis]!;
  if (pixels!.interleaved === true && (axis !== 1 || dims.length !== 4)) fail(`interleaved pixels need planar dims [n, c, h, w] with channelAxis 1, got [${dims.join(',')}] and ${axis}`);
  for (const values of [pixels!.scale, pixels!.offset]) {
    if (!Array.isArray(values) || (values.length !== 1 && values.length !== channels) || !values.every(Number.isFinite)) {
      fail(`scale and offset need 1 or ${channels} finite numbers`);
    }
  }
}
