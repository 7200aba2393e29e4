import { describe, expect, it } from 'vitest';
import { decodeCtc, decodeGreedy, type Bigram, type DecoderSettings } from '../../services/tasks/speech/ctc-decoder.ts';

// Tokens: 0 blank, 1 "stop", 2 "start", 3 "pump", 4 "two".
const TOKENS = 5;
const settings: DecoderSettings = { beamWidth: 8, lmWeight: 0, wordBonus: 0, tokenFloor: -20 };
const uniform: Bigram = { size: TOKENS, logProb: new Float32Array(TOKENS * TOKENS).fill(Math.log(1 / TOKENS)) };

/** Frames given as {token: probability}; the rest of each frame's mass spread over the others. */
function frames(rows: Array<Record<number, number>>): Float32Array {
  const out = new Float32Array(rows.length * TOKENS);
  rows.forEach((row, t) => {
    const named = Object.values(row).reduce((a, b) => a + b, 0);
    const others = TOKENS - Object.keys(row).length;
    for (let k = 0; k < TOKENS; k += 1) out[t * TOKENS + k] = Math.log(row[k] ?? (1 - named) / others);
  });
  return out;
}

describe('CTC prefix beam search', () => {
  it('reads a clear sequence like greedy decoding, with the frames each word held', () => {
    const lp = frames([{ 0: 0.9 }, { 1: 0.9 }, { 1: 0.8 }, { 0: 0.9 }, { 3: 0.9 }, { 0: 0.9 }, { 4: 0.7 }, { 0: 0.9 }]);
    const words = decodeCtc(lp, 8, TOKENS, uniform, settings);
    expect(words.map((w) => w.token)).toEqual([1, 3, 4]);
    expect(decodeGreedy(lp, 8, TOKENS)).toEqual([1, 3, 4]);
    expect(words.map((w) => [w.firstFrame, w.lastFrame])).toEqual([[1, 2], [4, 4], [6, 6]]);
    expect(words[0]!.confidence).toBeCloseTo(0.85, 5);
    expect(words[2]!.confidence).toBeCloseTo(0.7, 5);
  });

  it('a token repeated with a blank between is two words, without one it is one', () => {
    const twice = frames([{ 4: 0.9 }, { 0: 0.9 }, { 4: 0.9 }, { 0: 0.9 }]);
    expect(decodeCtc(twice, 4, TOKENS, uniform, settings).map((w) => w.token)).toEqual([4, 4]);
    const held = frames([{ 4: 0.9 }, { 4: 0.9 }, { 4: 0.9 }, { 0: 0.9 }]);
    expect(decodeCtc(held, 4, TOKENS, uniform, settings).map((w) => w.token)).toEqual([4]);
  });

  it('sums the paths of a prefix: many weak paths beat one strong one that greedy follows', () => {
    // Each frame: blank 0.4, "stop" 0.35, "start" 0.25. Greedy reads nothing (blank wins each frame);
    // the prefix "stop" collects most of the probability mass over the three frames.
    const lp = frames([{ 0: 0.4, 1: 0.35, 2: 0.25 }, { 0: 0.4, 1: 0.35, 2: 0.25 }, { 0: 0.4, 1: 0.35, 2: 0.25 }]);
    expect(decodeGreedy(lp, 3, TOKENS)).toEqual([]);
    expect(decodeCtc(lp, 3, TOKENS, uniform, settings).map((w) => w.token)).toEqual([1]);
  });

  it('lets the bigram settle a word the acoustics leave open', () => {
    // "start" then a frame torn between "pump" (0.45) and "two" (0.47): acoustics alone say "two".
    const lp = frames([{ 2: 0.9 }, { 0: 0.9 }, { 3: 0.45, 4: 0.47 }, { 0: 0.9 }]);
    expect(decodeCtc(lp, 4, TOKENS, uniform, settings).map((w) => w.token)).toEqual([2, 4]);
    const table = new Float32Array(TOKENS * TOKENS).fill(Math.log(0.05));
    table[2 * TOKENS + 3] = Math.log(0.8); // "start pump" is common, "start two" is not
    const bigram: Bigram = { size: TOKENS, logProb: table };
    expect(decodeCtc(lp, 4, TOKENS, bigram, { ...settings, lmWeight: 1 }).map((w) => w.token)).toEqual([2, 3]);
  });

  it('decodes silence (all blank) to no words, and refuses a bigram of the wrong size', () => {
    const lp = frames([{ 0: 0.99 }, { 0: 0.99 }]);
    expect(decodeCtc(lp, 2, TOKENS, uniform, settings)).toEqual([]);
    expect(() => decodeCtc(lp, 2, TOKENS, { size: 3, logProb: new Float32Array(9) }, settings)).toThrow(RangeError);
  });
});
