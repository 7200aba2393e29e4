/**
 * Audio for the speech tests. A real man's voice: "go forward ten meters", CMU's goforward recording
 * (Debian pocketsphinx-testdata, BSD-2-Clause), committed as models/asr/real-speech/goforward.wav
 * (see its README). The tests want the bare samples: 16 kHz, 16-bit little-endian, mono.
 */
import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from '../../services/core/config.ts';

export const GOFORWARD_WAV = `${PROJECT_ROOT}/models/asr/real-speech/goforward.wav`;
const HEADER_BYTES = 44;

/** The recording's PCM bytes (its WAV has the plain 44-byte header sox writes). */
export function goforwardPcm(): Buffer {
  const wav = readFileSync(GOFORWARD_WAV);
  if (wav.toString('latin1', 36, 40) !== 'data') throw new Error(`${GOFORWARD_WAV}: expected a 44-byte WAV header`);
  return wav.subarray(HEADER_BYTES);
}

/** Pieces of audio one after another. */
export function joinAudio(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
