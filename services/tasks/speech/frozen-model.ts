/**
 * A frozen single-input, single-output model of the front end (melspec, speech_embedding) as the
 * RunModel front-end.ts drives, run through the repository (worker threads). Shared by the
 * transcribe task and the decoder tuning, so both feed the models the same way.
 */
import type { InferOptions, ModelRepository } from '../../core/contracts.ts';
import { floatOutput } from '../common/model-io.ts';
import type { RunModel } from './front-end.ts';

export function frozenModel(repository: Pick<ModelRepository, 'get' | 'infer'>, model: string, optionsFor: (outputs: readonly string[]) => InferOptions = (outputs) => ({ outputs })): RunModel {
  const { signature } = repository.get(model);
  const input = signature.inputs[0]!.name;
  const output = signature.outputs[0]!.name;
  return async (data, dims) => {
    const result = await repository.infer(model, undefined, { [input]: { type: 'float32', dims, data } }, optionsFor([output]));
    // Its length depends on the input's (mel frames, windows): the check is float32 data matching its own dims.
    return floatOutput(result.outputs, output, (result.outputs[output]?.dims ?? [Number.NaN]).reduce((product, dim) => product * dim, 1));
  };
}
