/**
 * The transcribe task: audio -> words. WAV bytes are decoded and resampled to 16 kHz mono; voice
 * activity finds the speech (silence costs no recognition, long audio is cut at its pauses); each
 * speech segment goes through the front end (mel + embeddings), the acoustic model and the beam
 * decoder; word times are put back on the whole audio's clock.
 *
 * Every model run goes through the repository (worker threads): the event loop only decodes the
 * WAV (a few ms for 30 s) and runs the beam search (well under a millisecond per second of speech).
 */
import type { ModelRepository, RecognisedWord, TranscribeOptions, TranscribeResult } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { EdgeError, throwIfCancelled } from '../../core/errors.ts';
import type { AdmissionGate } from '../admission.ts';
import { whileAdmitted } from '../common/admitted.ts';
import { floatOutput } from '../common/model-io.ts';
import { PhaseClock } from '../common/phases.ts';
import { inferOptionsOf } from '../common/run-options.ts';
import { decodeCtc } from './ctc-decoder.ts';
import { computeFeatures, SAMPLE_RATE, type RunModel } from './front-end.ts';
import { EMBEDDING_INPUT, MEL_INPUT, OUTPUT, recogniserOf, SPEECH_TASK, type Recogniser } from './recogniser.ts';
import { resampleTo16k } from './resample.ts';
import { speechProbabilities, speechSegments } from './vad.ts';
import { bindVad } from './vad-model.ts';
import { decodeWav } from './wav.ts';

export interface SpeechContext {
  repository: ModelRepository;
  config: Readonly<Config>;
  admission: AdmissionGate;
}

type RunOptions = Pick<TranscribeOptions, 'timeoutMs' | 'signal'>;

/** Voiced stretches shorter than this are clicks and coughs: the shortest word ("oh") lasts ~100 ms. */
const MIN_SPEECH_MS = 90;

const round1 = (value: number): number => Math.round(value * 10) / 10;
const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** The repository as seen by one request: every run's queue and compute time lands on its clock. */
function timedRepository(repository: ModelRepository, clock: PhaseClock): Pick<ModelRepository, 'infer'> {
  return {
    async infer(name, version, inputs, options) {
      const result = await repository.infer(name, version, inputs, options);
      clock.addInference(result.timings);
      return result;
    },
  };
}

/** A frozen single-input, single-output model (melspec, speech_embedding) as a RunModel. */
function frozenModel(context: SpeechContext, repository: Pick<ModelRepository, 'infer'>, model: string, clock: PhaseClock, options: RunOptions): RunModel {
  const { signature } = context.repository.get(model);
  const input = signature.inputs[0]!.name;
  const output = signature.outputs[0]!.name;
  return async (data, dims) => {
    const result = await repository.infer(model, undefined, { [input]: { type: 'float32', dims, data } }, inferOptionsOf(clock, options, [output]));
    // Its length depends on the input's (mel frames, windows): the check is float32 data matching its own dims.
    return floatOutput(result.outputs, output, (result.outputs[output]?.dims ?? [Number.NaN]).reduce((product, dim) => product * dim, 1));
  };
}

/** One speech segment -> its words, timed from the segment's start. */
async function recogniseSegment(samples: Float32Array, recogniser: Recogniser, model: string, context: SpeechContext, clock: PhaseClock, options: RunOptions): Promise<RecognisedWord[]> {
  const repository = timedRepository(context.repository, clock);
  const features = await computeFeatures(samples, {
    melspec: frozenModel(context, repository, recogniser.frontEnd.melspec, clock, options),
    embedding: frozenModel(context, repository, recogniser.frontEnd.embedding, clock, options),
  });
  const result = await repository.infer(
    model,
    clock.version,
    {
      [MEL_INPUT]: { type: 'float32', dims: [1, features.frames, features.mel.length / features.frames], data: features.mel },
      [EMBEDDING_INPUT]: { type: 'float32', dims: [1, features.windows, features.embeddings.length / Math.max(1, features.windows)], data: features.embeddings },
    },
    inferOptionsOf(clock, options, [OUTPUT]),
  );
  const logProbs = result.outputs[OUTPUT];
  const steps = logProbs?.dims[1] ?? 0;
  const values = floatOutput(result.outputs, OUTPUT, steps * recogniser.tokens);
  const durationMs = (samples.length / SAMPLE_RATE) * 1000;
  return clock.timeSync('postprocess', () =>
    decodeCtc(values, steps, recogniser.tokens, recogniser.bigram, recogniser.decoder).map((word) => ({
      word: recogniser.words[word.token - 1]!,
      start_ms: Math.min(durationMs, Math.max(0, word.firstFrame * recogniser.frameMs - recogniser.padMs)),
      end_ms: Math.min(durationMs, Math.max(0, (word.lastFrame + 1) * recogniser.frameMs - recogniser.padMs)),
      confidence: round3(word.confidence),
    })),
  );
}

function checkLength(samples: number, config: Readonly<Config>): void {
  const seconds = samples / SAMPLE_RATE;
  if (seconds > config.speech.maxAudioSeconds) {
    throw new EdgeError('EDGE_ERR_AUDIO_TOO_LONG', `the audio lasts ${seconds.toFixed(3)} s, more than the ${config.speech.maxAudioSeconds} s accepted`, {
      details: { seconds: Math.ceil(seconds * 1000) / 1000, maxSeconds: config.speech.maxAudioSeconds },
    });
  }
}

/** Voice activity, then each speech segment recognised; words timed on the whole audio. */
async function recogniseAll(samples: Float32Array, context: SpeechContext, clock: PhaseClock, options: RunOptions): Promise<TranscribeResult> {
  const model = context.config.speech.model;
  const loaded = context.repository.get(model);
  clock.version = loaded.version;
  const recogniser = recogniserOf(loaded.card, loaded.signature);
  const speech = context.config.speech;
  const vad = bindVad(timedRepository(context.repository, clock), recogniser.frontEnd.vad, {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const probabilities = await speechProbabilities(samples, vad);
  const segments = speechSegments(probabilities, samples.length, { threshold: speech.vadThreshold, mergeGapMs: speech.mergeGapMs, padMs: speech.segmentPadMs, minSpeechMs: MIN_SPEECH_MS });
  const words: RecognisedWord[] = [];
  for (const segment of segments) {
    throwIfCancelled(options.signal);
    const offsetMs = (segment.start / SAMPLE_RATE) * 1000;
    for (const word of await recogniseSegment(samples.subarray(segment.start, segment.end), recogniser, model, context, clock, options)) {
      words.push({ ...word, start_ms: round1(word.start_ms + offsetMs), end_ms: round1(word.end_ms + offsetMs) });
    }
  }
  return resultOf(words, samples.length, model, loaded.version, clock);
}

function resultOf(words: RecognisedWord[], samples: number, model: string, version: string, clock: PhaseClock): TranscribeResult {
  return {
    text: words.map((word) => word.word).join(' '),
    words,
    duration_ms: round1((samples / SAMPLE_RATE) * 1000),
    model,
    version,
    timings: clock.finish(),
  };
}

export function createTranscribe(context: SpeechContext) {
  async function run(work: (clock: PhaseClock) => Promise<TranscribeResult>, options: RunOptions): Promise<TranscribeResult> {
    const clock = new PhaseClock(SPEECH_TASK, context.config.speech.model);
    try {
      throwIfCancelled(options.signal);
      return await whileAdmitted(context.admission, clock, options, () => work(clock));
    } catch (error) {
      clock.finish(error);
      throw error;
    }
  }

  return {
    transcribe(wav: Uint8Array, options: TranscribeOptions = {}): Promise<TranscribeResult> {
      return run(async (clock) => {
        const samples = clock.timeSync('decode', () => {
          const decoded = decodeWav(wav, { maxSeconds: context.config.speech.maxAudioSeconds, maxChannels: context.config.speech.maxChannels });
          return resampleTo16k(decoded.samples, decoded.sampleRate);
        });
        return recogniseAll(samples, context, clock, options);
      }, options);
    },
    transcribeSamples(samples: Float32Array, options: TranscribeOptions = {}): Promise<TranscribeResult> {
      return run((clock) => {
        checkLength(samples.length, context.config);
        return recogniseAll(samples, context, clock, options);
      }, options);
    },
    /** One utterance a live stream's voice activity already cut: recognised whole, no second VAD pass. */
    recogniseUtterance(samples: Float32Array, options: TranscribeOptions = {}): Promise<TranscribeResult> {
      return run(async (clock) => {
        checkLength(samples.length, context.config);
        const loaded = context.repository.get(context.config.speech.model);
        clock.version = loaded.version;
        const recogniser = recogniserOf(loaded.card, loaded.signature);
        const words = (await recogniseSegment(samples, recogniser, context.config.speech.model, context, clock, options)).map((word) => ({
          ...word,
          start_ms: round1(word.start_ms),
          end_ms: round1(word.end_ms),
        }));
        return resultOf(words, samples.length, context.config.speech.model, loaded.version, clock);
      }, options);
    },
  };
}
