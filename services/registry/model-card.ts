/**
 * Reads and validates a model card (models/repository/<name>/card.json). What the platform relies
 * on is required (name, version, task, file, sha256, inputs, outputs); descriptive fields are
 * checked when present and filled with empty values when absent.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ModelCard, ModelSignature, TensorType, V2Datatype } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import { isValidModelName, isValidModelVersion } from './model-name.ts';

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;

/** V2 datatype -> onnxruntime element type, to compare a card with the session's signature. */
export const TENSOR_TYPE_OF: Readonly<Record<V2Datatype, TensorType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const CardTensorSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  datatype: Type.Union(DATATYPES.map((datatype) => Type.Literal(datatype))),
  shape: Type.Array(Type.Integer({ minimum: -1 }), { maxItems: 16 }),
  description: Type.String({ default: '' }),
});

const CardSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  task: Type.String({ minLength: 1 }),
  description: Type.String({ default: '' }),
  file: Type.String({ minLength: 1, maxLength: 512 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  inputs: Type.Array(CardTensorSchema, { minItems: 1 }),
  outputs: Type.Array(CardTensorSchema, { minItems: 1 }),
  labels: Type.Array(Type.String(), { default: [] }),
  preprocessing: Type.String({ default: '' }),
  postprocessing: Type.String({ default: '' }),
  defaults: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  provenance: Type.Object(
    {
      package: Type.String({ default: '' }),
      files: Type.Array(Type.String(), { default: [] }),
      upstream: Type.String({ default: '' }),
      converter: Type.String({ default: '' }),
    },
    { default: {} },
  ),
  licence: Type.String({ default: '' }),
  verification: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  warmup: Type.Optional(
    Type.Record(Type.String(), Type.Object({ shape: Type.Array(Type.Integer({ minimum: 0, maximum: 1_000_000 }), { maxItems: 16 }), value: Type.Optional(Type.Number()) })),
  ),
});

type CardShape = Static<typeof CardSchema>;

function invalid(folder: string, problem: string): EdgeError {
  return new EdgeError('EDGE_ERR_MODEL_CARD_INVALID', `model card of "${folder}" is invalid: ${problem}`, { details: { model: folder, problem } });
}

/** Parses card.json text of the model folder `folder`; the card must name that folder. */
export function parseModelCard(folder: string, text: string): ModelCard {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(folder, `not JSON (${(error as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(folder, 'not a JSON object');
  const candidate = Value.Default(CardSchema, structuredClone(raw));
  const problems = [...Value.Errors(CardSchema, candidate)].slice(0, 5).map((problem) => `${problem.path || '/'}: ${problem.message}`);
  if (problems.length > 0) throw invalid(folder, problems.join('; '));
  const card = candidate as CardShape;
  if (card.name !== folder || !isValidModelName(card.name)) throw invalid(folder, `"name" must be the folder name "${folder}", got ${JSON.stringify(card.name)}`);
  if (!isValidModelVersion(card.version)) throw invalid(folder, `"version" ${JSON.stringify(card.version)} must be 1-64 of A-Z a-z 0-9 _ . - without ".."`);
  return card as ModelCard;
}

/** The card must describe the tensors the ONNX file really has (names and datatypes). */
export function checkCardAgainstSignature(card: ModelCard, signature: ModelSignature): void {
  for (const [side, declared, actual] of [
    ['inputs', card.inputs, signature.inputs],
    ['outputs', card.outputs, signature.outputs],
  ] as const) {
    const actualByName = new Map(actual.map((spec) => [spec.name, spec]));
    const declaredNames = declared.map((tensor) => tensor.name).sort();
    const actualNames = [...actualByName.keys()].sort();
    if (JSON.stringify(declaredNames) !== JSON.stringify(actualNames)) {
      throw invalid(card.name, `${side} ${JSON.stringify(declaredNames)} differ from the model's ${JSON.stringify(actualNames)}`);
    }
    for (const tensor of declared) {
      const spec = actualByName.get(tensor.name)!;
      if (TENSOR_TYPE_OF[tensor.datatype] !== spec.type) {
        throw invalid(card.name, `${side} "${tensor.name}" is ${spec.type} in the model, not ${tensor.datatype}`);
      }
    }
  }
}
