/**
 * The speech-recognition task layer. Other layers call createSpeechTasks and see only the
 * SpeechTasks contract: whole files (transcribe), decoded audio (transcribeSamples) and live
 * streams (openStream: voice activity cuts utterances, each recognised as a whole).
 */
import type { ModelRepository, SpeechTasks } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { admissionGateFor, type AdmissionGate } from '../admission.ts';
import { recogniserOf } from './recogniser.ts';
import { createSpeechStream } from './stream.ts';
import { createTranscribe } from './transcribe.ts';
import { VoiceActivity } from './vad.ts';
import { bindVad } from './vad-model.ts';

export interface SpeechTasksDeps {
  repository: ModelRepository;
  config: Readonly<Config>;
  /** The node's admission gate, shared with the other tasks. */
  admission?: AdmissionGate;
}

export function createSpeechTasks({ repository, config, admission = admissionGateFor(config) }: SpeechTasksDeps): SpeechTasks {
  const tasks = createTranscribe({ repository, config, admission });
  const speech = config.speech;
  return {
    transcribe: tasks.transcribe,
    transcribeSamples: tasks.transcribeSamples,
    openStream(listener) {
      return createSpeechStream(listener, {
        vad: () => {
          const loaded = repository.get(speech.model);
          return new VoiceActivity(bindVad(repository, recogniserOf(loaded.card, loaded.signature).frontEnd.vad));
        },
        recognise: (samples) => tasks.recogniseUtterance(samples, { timeoutMs: config.server.defaultInferTimeoutMs }),
        options: { vadThreshold: speech.vadThreshold, segmentPadMs: speech.segmentPadMs, ...speech.stream },
      });
    },
  };
}

export { SPEECH_TASK } from './recogniser.ts';
