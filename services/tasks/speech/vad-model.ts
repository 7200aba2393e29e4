/**
 * Binds voice activity (vad.ts) to a Silero VAD model in the repository: each 32-ms chunk is one
 * run through the runtime's workers (never on the event loop), with the tensors the model declares:
 * input [1, 576], state [2, 1, 128], sr an int64 scalar (dims []) = 16000.
 *
 * The runtime transfers input buffers to its worker (they are detached afterwards), so the caller's
 * arrays are copied into fresh ones for every run: vad.ts may keep or reuse what it passes.
 */
import type { ModelRepository, ModelSignature, TensorSpec } from '../../core/contracts.ts';
import { findSpec, floatOutput, unsuitable } from '../common/model-io.ts';
import { VAD_CHUNK, VAD_CONTEXT, VAD_SAMPLE_RATE, VAD_STATE_SIZE, type RunVad } from './vad.ts';

const OUTPUTS = ['output', 'stateN'] as const;

/** A declared dim that is neither variable nor `size` cannot take our tensor. */
function fits(spec: TensorSpec | undefined, type: TensorSpec['type'], dims: readonly number[]): boolean {
  return spec !== undefined && spec.type === type && spec.dims.length === dims.length && spec.dims.every((dim, axis) => dim === -1 || dim === dims[axis]);
}

/**
 * Throws EDGE_ERR_MODEL_UNSUITABLE unless the signature is Silero VAD v5's: for whoever holds the
 * loaded model (bindVad only needs `infer`, so a wrong model would otherwise surface as the
 * runtime's EDGE_ERR_V2_* input errors on the first chunk).
 */
export function assertVadModel(model: string, signature: ModelSignature): void {
  const expectations: Array<[readonly TensorSpec[], string, TensorSpec['type'], readonly number[]]> = [
    [signature.inputs, 'input', 'float32', [1, VAD_CONTEXT + VAD_CHUNK]],
    [signature.inputs, 'state', 'float32', [2, 1, VAD_STATE_SIZE / 2]],
    [signature.inputs, 'sr', 'int64', []],
    [signature.outputs, 'output', 'float32', [1, 1]],
    [signature.outputs, 'stateN', 'float32', [2, 1, VAD_STATE_SIZE / 2]],
  ];
  for (const [specs, name, type, dims] of expectations) {
    if (!fits(findSpec(specs, name), type, dims)) throw unsuitable(model, `voice activity needs "${name}" ${type} [${dims.join(', ')}] (Silero VAD v5)`);
  }
  if (signature.inputs.length !== 3) throw unsuitable(model, 'voice activity feeds exactly the inputs input, state and sr');
}

/**
 * A RunVad over `model` (the loaded version) of the repository; each call is one runtime request.
 * Only `infer` is needed, so a caller may pass a repository that times or wraps its runs.
 */
export function bindVad(repository: Pick<ModelRepository, 'infer'>, model: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): RunVad {
  return async function runVad(input, state) {
    const result = await repository.infer(
      model,
      undefined, // whichever version is loaded when the request queues (a reload may happen in between)
      {
        input: { type: 'float32', dims: [1, VAD_CONTEXT + VAD_CHUNK], data: input.slice() },
        state: { type: 'float32', dims: [2, 1, VAD_STATE_SIZE / 2], data: state.slice() },
        sr: { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(VAD_SAMPLE_RATE)) },
      },
      {
        outputs: OUTPUTS,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    return { probability: floatOutput(result.outputs, 'output', 1)[0]!, state: floatOutput(result.outputs, 'stateN', VAD_STATE_SIZE) };
  };
}
