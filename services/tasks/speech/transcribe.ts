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
import { whileHolding } from '../common/held.ts';
import { floatOutput } from '../common/model-io.ts';
import { PhaseClock } from '../common/phases.ts';
import { inferOptionsOf } from '../common/run-options.ts';
import { decodeCtc } from './ctc-decoder.ts';
import { computeFeatures, SAMPLE_RATE } from './front-end.ts';
import { frozenModel } from './frozen-model.ts';
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

/** What one request works with: its clock and options, the recogniser (looked up once) and the
 *  repository as the request sees it (every run's queue and compute time lands on its clock). */
interface RecognitionRun {
  clock: PhaseClock;
  options: RunOptions;
  model: string;
  version: string;
  recogniser: Recogniser;
  repository: Pick<ModelRepository, 'get' | 'infer'>;
}

function startRun(context: SpeechContext, clock: PhaseClock, options: RunOptions): RecognitionRun {
  const model = context.config.speech.model;
  const loaded = context.repository.get(model);
  clock.version = loaded.version;
  return {
    clock,
    options,
    model,
    version: loaded.version,
    recogniser: recogniserOf(loaded.card, loaded.signature),
    repository: {
      get: (name, version) => context.repository.get(name, version),
      async infer(name, version, inputs, inferOptions) {
        const result = await context.repository.infer(name, version, inputs, inferOptions);
        clock.addInference(result.timings);
        return result;
      },
    },
  };
}

/** One speech segment -> its words, timed from the segment's start. */
async function recogniseSegment(samples: Float32Array, run: RecognitionRun): Promise<RecognisedWord[]> {
  const { clock, options, recogniser, repository } = run;
  const optionsFor = (outputs: readonly string[]) => inferOptionsOf(clock, options, outputs);
  const features = await computeFeatures(samples, {
    melspec: frozenModel(repository, recogniser.frontEnd.melspec, optionsFor),
    embedding: frozenModel(repository, recogniser.frontEnd.embedding, optionsFor),
  });
  const result = await repository.infer(
    run.model,
    run.version,
    {
      [MEL_INPUT]: { type: 'float32', dims: [1, features.frames, features.mel.length / features.frames], data: features.mel },
      [EMBEDDING_INPUT]: { type: 'float32', dims: [1, features.windows, features.embeddings.length / Math.max(1, features.windows)], data: features.embeddings },
    },
    optionsFor([OUTPUT]),
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

/**
 * The segments' words, timed on the whole audio. With voice activity the speech is found first
 * (silence costs no recognition, long audio is cut at its pauses); without, the audio is one
 * utterance (a live stream's voice activity already cut it).
 */
async function recognise(samples: Float32Array, context: SpeechContext, run: RecognitionRun, voiceActivity: boolean): Promise<TranscribeResult> {
  // Every segment runs this version, seconds apart on long audio: a reload in between must not
  // drop it before the last one (the registry keeps a held version past its reload grace).
  return whileHolding(context.repository, [{ name: run.model, version: run.version }], () => recogniseHeld(samples, context, run, voiceActivity));
}

async function recogniseHeld(samples: Float32Array, context: SpeechContext, run: RecognitionRun, voiceActivity: boolean): Promise<TranscribeResult> {
  const { clock, options, recogniser } = run;
  let segments = [{ start: 0, end: samples.length }];
  if (voiceActivity) {
    const speech = context.config.speech;
    const vad = bindVad(run.repository, recogniser.frontEnd.vad, {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    const probabilities = await speechProbabilities(samples, vad);
    segments = speechSegments(probabilities, samples.length, { threshold: speech.vadThreshold, mergeGapMs: speech.mergeGapMs, padMs: speech.segmentPadMs, minSpeechMs: MIN_SPEECH_MS });
  }
  const words: RecognisedWord[] = [];
  for (const segment of segments) {
    throwIfCancelled(options.signal);
    const offsetMs = (segment.start / SAMPLE_RATE) * 1000;
    for (const word of await recogniseSegment(samples.subarray(segment.start, segment.end), run)) {
      words.push({ ...word, start_ms: round1(word.start_ms + offsetMs), end_ms: round1(word.end_ms + offsetMs) });
    }
  }
  return resultOf(words, samples.length, run.model, run.version, clock);
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
  /** Admits the request, runs `work` on its clock, publishes the clock's event either way. */
  async function admitted(work: (clock: PhaseClock) => Promise<TranscribeResult>, options: RunOptions): Promise<TranscribeResult> {
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
      return admitted(async (clock) => {
        const samples = clock.timeSync('decode', () => {
          const decoded = decodeWav(wav, { maxSeconds: context.config.speech.maxAudioSeconds, maxChannels: context.config.speech.maxChannels });
          return resampleTo16k(decoded.samples, decoded.sampleRate);
        });
        return recognise(samples, context, startRun(context, clock, options), true);
      }, options);
    },
    transcribeSamples(samples: Float32Array, options: TranscribeOptions = {}): Promise<TranscribeResult> {
      return admitted((clock) => {
        checkLength(samples.length, context.config);
        return recognise(samples, context, startRun(context, clock, options), true);
      }, options);
    },
    /** One utterance a live stream's voice activity already cut: recognised whole, no second VAD pass. */
    recogniseUtterance(samples: Float32Array, options: TranscribeOptions = {}): Promise<TranscribeResult> {
      return admitted((clock) => {
        checkLength(samples.length, context.config);
        return recognise(samples, context, startRun(context, clock, options), false);
      }, options);
    },
  };
}
