/**
 * The recogniser's frozen feature front end (openWakeWord's): 16 kHz audio -> log-mel frames
 * (melspec model, 32 bands every 10 ms) -> 96-d speech embeddings (speech_embedding model, one per
 * 8 mel frames over a 76-frame window). The same code prepares the training features
 * (models/asr/features.ts) and the served ones, so the acoustic model sees exactly what it
 * was trained on.
 *
 * Why the padding: the embedding window is 0.76 s wide. Padding the audio with PAD_SECONDS of
 * zeros on both sides (a bit more than half a window) lets embedding i be centred near original
 * mel frame 8i, so the first and last words of a clip get embeddings of their own.
 */

/** Runs one frozen model on one float32 tensor and returns its output's values. */
export type RunModel = (data: Float32Array, dims: readonly number[]) => Promise<Float32Array>;

export interface FrontEndModels {
  melspec: RunModel;
  embedding: RunModel;
}

export const SAMPLE_RATE = 16_000;
export const MEL_BANDS = 32;
export const MEL_HOP_SAMPLES = 160;
export const EMBEDDING_WINDOW = 76;
export const EMBEDDING_HOP = 8;
export const EMBEDDING_SIZE = 96;
export const PAD_SECONDS = 0.4;
/** Largest embedding batch in one run: bounds the worker's tensor at ~1 MB whatever the length. */
const EMBEDDING_BATCH = 128;

export interface Features {
  /** [frames, 32] log-mel, scaled as openWakeWord does (x / 10 + 2). */
  mel: Float32Array;
  frames: number;
  /** [windows, 96]; embedding i covers mel frames [8i, 8i + 76) (of the padded audio). */
  embeddings: Float32Array;
  windows: number;
}

/** Samples in [-1, 1] at 16 kHz -> the padded, int16-scaled signal the melspec model expects. */
export function melInput(samples: Float32Array): Float32Array {
  const pad = Math.round(PAD_SECONDS * SAMPLE_RATE);
  const padded = new Float32Array(samples.length + 2 * pad);
  for (let index = 0; index < samples.length; index += 1) padded[pad + index] = samples[index]! * 32_767;
  return padded;
}

export async function computeFeatures(samples: Float32Array, models: FrontEndModels): Promise<Features> {
  const signal = melInput(samples);
  const raw = await models.melspec(signal, [1, signal.length]);
  const frames = raw.length / MEL_BANDS;
  const mel = new Float32Array(raw.length);
  for (let index = 0; index < raw.length; index += 1) mel[index] = raw[index]! / 10 + 2;

  const windows = frames < EMBEDDING_WINDOW ? 0 : Math.floor((frames - EMBEDDING_WINDOW) / EMBEDDING_HOP) + 1;
  const embeddings = new Float32Array(windows * EMBEDDING_SIZE);
  const windowValues = EMBEDDING_WINDOW * MEL_BANDS;
  for (let first = 0; first < windows; first += EMBEDDING_BATCH) {
    const count = Math.min(EMBEDDING_BATCH, windows - first);
    const batch = new Float32Array(count * windowValues);
    for (let window = 0; window < count; window += 1) {
      const start = (first + window) * EMBEDDING_HOP * MEL_BANDS;
      batch.set(mel.subarray(start, start + windowValues), window * windowValues);
    }
    const out = await models.embedding(batch, [count, EMBEDDING_WINDOW, MEL_BANDS, 1]);
    embeddings.set(out, first * EMBEDDING_SIZE);
  }
  return { mel, frames, embeddings, windows };
}
