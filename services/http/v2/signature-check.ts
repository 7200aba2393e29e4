/**
 * A decoded request against the model's signature: every input the model needs, no input it does
 * not know, datatypes and fixed dimensions as declared (-1 = any), outputs it has. Checked here so
 * that a wrong request is a 400 with a precise code, not a failed run inside onnxruntime.
 */
import type { ModelSignature } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import { datatypeOf } from './datatypes.ts';
import type { V2InferRequest } from './decode-request.ts';

export function checkAgainstSignature(request: V2InferRequest, signature: ModelSignature, model: string): void {
  const specs = new Map(signature.inputs.map((spec) => [spec.name, spec]));
  for (const input of request.inputs) {
    const spec = specs.get(input.name);
    if (spec === undefined) {
      throw new EdgeError(
        'EDGE_ERR_V2_TENSOR_NAME_INVALID',
        `model "${model}" has no input "${input.name}"; its inputs are ${[...specs.keys()].join(', ')}`,
      );
    }
    const expected = datatypeOf(spec.type);
    if (input.datatype !== expected) {
      throw new EdgeError('EDGE_ERR_V2_DATA_MISMATCH', `input "${input.name}" must be ${expected}, got ${input.datatype}`);
    }
    const fits = input.shape.length === spec.dims.length && spec.dims.every((dim, axis) => dim < 0 || dim === input.shape[axis]);
    if (!fits) {
      throw new EdgeError(
        'EDGE_ERR_V2_SHAPE_INVALID',
        `input "${input.name}" has shape [${input.shape.join(',')}] but the model takes [${spec.dims.join(',')}] (-1 = any)`,
      );
    }
  }
  const given = new Set(request.inputs.map((input) => input.name));
  const missing = signature.inputs.filter((spec) => !given.has(spec.name)).map((spec) => spec.name);
  if (missing.length > 0) {
    throw new EdgeError('EDGE_ERR_V2_TENSOR_NAME_INVALID', `model "${model}" needs input(s) ${missing.join(', ')}`);
  }
  const outputs = new Set(signature.outputs.map((spec) => spec.name));
  for (const output of request.outputs ?? []) {
    if (!outputs.has(output.name)) {
      throw new EdgeError(
        'EDGE_ERR_V2_OUTPUT_UNKNOWN',
        `model "${model}" has no output "${output.name}"; its outputs are ${[...outputs].join(', ')}`,
      );
    }
  }
}
