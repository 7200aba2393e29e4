/**
 * The speech recogniser a card describes: its acoustic model's tensors (checked against the
 * contract below), its words (card `labels`), the frozen models it depends on, and the decoder's
 * settings and bigram (card `defaults`). Parsed once per loaded model version.
 *
 * Contract (models/repository/asr/card.json): inputs `mel` [1, T, 32] and `embeddings` [1, N, 96]
 * (the front end's outputs, services/tasks/speech/front-end.ts); output `log_probs`
 * [1, S, words + 1], one row per 40 ms, token 0 the CTC blank, token k the word labels[k - 1].
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ModelCard, ModelSignature } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import { findSpec, unsuitable } from '../common/model-io.ts';
import type { Bigram, DecoderSettings } from './ctc-decoder.ts';
import { EMBEDDING_SIZE, MEL_BANDS } from './front-end.ts';

export const SPEECH_TASK = 'speech-recognition';
export const MEL_INPUT = 'mel';
export const EMBEDDING_INPUT = 'embeddings';
export const OUTPUT = 'log_probs';

const SpeechDefaultsSchema = Type.Object({
  /** Models the recogniser needs loaded beside it. */
  frontEnd: Type.Object({ melspec: Type.String(), embedding: Type.String(), vad: Type.String() }),
  /** Milliseconds per output row, and audio the front end pads on each side before the first row. */
  frameMs: Type.Number({ exclusiveMinimum: 0 }),
  padMs: Type.Number({ minimum: 0 }),
  decoder: Type.Object({
    beamWidth: Type.Integer({ minimum: 1, maximum: 256 }),
    lmWeight: Type.Number({ minimum: 0 }),
    wordBonus: Type.Number(),
    tokenFloor: Type.Number({ maximum: 0 }),
    /** log P(next | previous), [words + 1][words + 1], index 0 the sentence boundary. */
    bigram: Type.Array(Type.Array(Type.Number())),
  }),
});
type SpeechDefaults = Static<typeof SpeechDefaultsSchema>;

export interface Recogniser {
  words: readonly string[];
  /** words + 1 (the blank). */
  tokens: number;
  frontEnd: SpeechDefaults['frontEnd'];
  frameMs: number;
  padMs: number;
  decoder: DecoderSettings;
  bigram: Bigram;
}

function invalidCard(card: ModelCard, problem: string): EdgeError {
  return new EdgeError('EDGE_ERR_MODEL_CARD_INVALID', `model card of "${card.name}" is invalid for ${SPEECH_TASK}: ${problem}`, { details: { model: card.name, problem } });
}

const bySignature = new WeakMap<ModelSignature, Recogniser>();

/** The recogniser of a loaded model; EDGE_ERR_MODEL_UNSUITABLE / _CARD_INVALID when it is not one. */
export function recogniserOf(card: ModelCard, signature: ModelSignature): Recogniser {
  const cached = bySignature.get(signature);
  if (cached !== undefined) return cached;
  if (card.task !== SPEECH_TASK) throw unsuitable(card.name, `its task is "${card.task}", not ${SPEECH_TASK}`);
  const mel = findSpec(signature.inputs, MEL_INPUT);
  const embeddings = findSpec(signature.inputs, EMBEDDING_INPUT);
  const output = findSpec(signature.outputs, OUTPUT);
  if (!mel || mel.type !== 'float32' || mel.dims.length !== 3 || mel.dims[2] !== MEL_BANDS) throw unsuitable(card.name, `needs a float32 input "${MEL_INPUT}" [1, T, ${MEL_BANDS}]`);
  if (!embeddings || embeddings.type !== 'float32' || embeddings.dims.length !== 3 || embeddings.dims[2] !== EMBEDDING_SIZE) throw unsuitable(card.name, `needs a float32 input "${EMBEDDING_INPUT}" [1, N, ${EMBEDDING_SIZE}]`);
  if (!output || output.type !== 'float32' || output.dims.length !== 3) throw unsuitable(card.name, `needs a float32 output "${OUTPUT}" [1, S, words + 1]`);
  const tokens = card.labels.length + 1;
  if (output.dims[2] !== tokens) throw unsuitable(card.name, `output "${OUTPUT}" has ${output.dims[2]} tokens per row, the card names ${card.labels.length} words (+ blank)`);

  const problems = [...Value.Errors(SpeechDefaultsSchema, card.defaults)].slice(0, 3);
  if (problems.length > 0) throw invalidCard(card, problems.map((entry) => `defaults${entry.path}: ${entry.message}`).join('; '));
  const defaults = card.defaults as unknown as SpeechDefaults;
  const rows = defaults.decoder.bigram;
  if (rows.length !== tokens || rows.some((row) => row.length !== tokens)) throw invalidCard(card, `defaults.decoder.bigram must be ${tokens} x ${tokens}`);
  const logProb = new Float32Array(tokens * tokens);
  rows.forEach((row, index) => logProb.set(row, index * tokens));
  const { bigram: _table, ...decoder } = defaults.decoder;
  const recogniser: Recogniser = {
    words: card.labels,
    tokens,
    frontEnd: defaults.frontEnd,
    frameMs: defaults.frameMs,
    padMs: defaults.padMs,
    decoder,
    bigram: { size: tokens, logProb },
  };
  bySignature.set(signature, recogniser);
  return recogniser;
}
