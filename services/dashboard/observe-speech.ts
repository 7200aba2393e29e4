/**
 * Speech tasks that also tell the dashboard what they recognised: every non-empty transcript of a
 * request, and every final utterance of a live stream (partials are left out: they would flood it).
 * The wrapper only observes; results and errors pass through unchanged.
 */
import type { SpeechTasks, TranscribeResult } from '../core/contracts.ts';

export type TranscriptSink = (result: TranscribeResult & { source: 'request' | 'stream' }) => void;

export function observeSpeech(speech: SpeechTasks, sink: TranscriptSink): SpeechTasks {
  const report = (result: TranscribeResult, source: 'request' | 'stream') => {
    if (result.text.length > 0) sink({ ...result, source });
    return result;
  };
  return {
    transcribe: async (wav, options) => report(await speech.transcribe(wav, options), 'request'),
    transcribeSamples: async (samples, options) => report(await speech.transcribeSamples(samples, options), 'request'),
    openStream: (listener) =>
      speech.openStream({
        result(result) {
          if (result.final) report(result, 'stream');
          listener.result(result);
        },
        error: (error) => listener.error(error),
      }),
  };
}
