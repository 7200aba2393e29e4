/**
 * CTC prefix beam search over words, with a word-bigram language model: the acoustic model's
 * per-frame log-probabilities (token 0 = blank, token k = word k - 1) -> the likeliest word
 * sequence, each word with the frames it was heard on.
 *
 * Why a beam and a bigram: greedy decoding takes each frame's best token, so two similar words
 * ("close"/"hold", "stop"/"cancel") are settled by the acoustics alone. The beam keeps the close
 * runners-up and the bigram (what operators say after what: "set pressure to", "point" before a
 * digit) settles them. The bigram is smoothed, so any sequence of the vocabulary stays possible.
 *
 * Standard algorithm (Hannun et al. 2014, "First-pass large vocabulary continuous speech
 * recognition using bi-directional recurrent DNNs"): each prefix keeps the log-probability of
 * paths ending in blank and in its last word; a word is scored by the language model once, when
 * it is appended.
 */

export interface DecoderSettings {
  /** Prefixes kept per frame. */
  beamWidth: number;
  /** Weight of the language model's log-probability. */
  lmWeight: number;
  /** Added per word (counters the language model's preference for fewer words). */
  wordBonus: number;
  /** Tokens below this log-probability in a frame are not tried (speed; blank always is). */
  tokenFloor: number;
}

/** log P(next | previous): row and column 0 are the sentence boundary, k the token k. */
export interface Bigram {
  size: number;
  logProb: Float32Array;
}

export interface DecodedWord {
  token: number;
  /** First and last frame on which the word's token was the path's choice. */
  firstFrame: number;
  lastFrame: number;
  /** Mean probability of the word's token over those frames. */
  confidence: number;
}

interface Beam {
  tokens: number[];
  /** Frames where each word began and last held, along the best path into this prefix. */
  starts: number[];
  ends: number[];
  blank: number;
  word: number;
  lm: number;
  /** Log-probability of the single best path into this prefix (whose starts and ends are kept). */
  path: number;
}

const NEG = -Infinity;

function logAdd(a: number, b: number): number {
  if (a === NEG) return b;
  if (b === NEG) return a;
  const high = Math.max(a, b);
  return high + Math.log1p(Math.exp(Math.min(a, b) - high));
}

const total = (beam: Beam): number => logAdd(beam.blank, beam.word) + beam.lm;

export function decodeCtc(logProbs: Float32Array, steps: number, tokens: number, bigram: Bigram, settings: DecoderSettings): DecodedWord[] {
  if (bigram.size !== tokens) throw new RangeError(`bigram covers ${bigram.size} tokens, the model emits ${tokens}`);
  const lmScore = (previous: number, next: number): number => settings.lmWeight * bigram.logProb[previous * tokens + next]! + settings.wordBonus;
  let beams = new Map<string, Beam>([['', { tokens: [], starts: [], ends: [], blank: 0, word: NEG, lm: 0, path: 0 }]]);

  for (let t = 0; t < steps; t += 1) {
    const row = t * tokens;
    const blankLp = logProbs[row]!;
    const candidates: number[] = [];
    for (let k = 1; k < tokens; k += 1) if (logProbs[row + k]! >= settings.tokenFloor) candidates.push(k);
    const next = new Map<string, Beam>();
    const slot = (key: string, tokensOf: number[], lm: number): Beam => {
      let beam = next.get(key);
      if (beam === undefined) {
        beam = { tokens: tokensOf, starts: [], ends: [], blank: NEG, word: NEG, lm, path: NEG };
        next.set(key, beam);
      }
      return beam;
    };
    /** Keeps the word times of the strongest single path into a prefix. */
    const offer = (beam: Beam, score: number, starts: () => number[], ends: () => number[]): void => {
      if (score > beam.path) {
        beam.path = score;
        beam.starts = starts();
        beam.ends = ends();
      }
    };
    for (const [key, beam] of beams) {
      const here = logAdd(beam.blank, beam.word);
      // Blank: the prefix stays.
      const stay = slot(key, beam.tokens, beam.lm);
      stay.blank = logAdd(stay.blank, here + blankLp);
      offer(stay, beam.path + blankLp, () => beam.starts, () => beam.ends);
      const last = beam.tokens.length > 0 ? beam.tokens[beam.tokens.length - 1]! : 0;
      if (last !== 0 && beam.word > NEG) {
        // The last word's token repeated without a blank between: still the same word.
        const lp = logProbs[row + last]!;
        stay.word = logAdd(stay.word, beam.word + lp);
        offer(stay, beam.path + lp, () => beam.starts, () => [...beam.ends.slice(0, -1), t]);
      }
      for (const k of candidates) {
        const lp = logProbs[row + k]!;
        // The same token again only starts a new word after a blank.
        const into = k === last ? beam.blank + lp : here + lp;
        if (into === NEG) continue;
        const child = slot(key === '' ? String(k) : `${key} ${k}`, [...beam.tokens, k], beam.lm + lmScore(last, k));
        child.word = logAdd(child.word, into);
        offer(child, beam.path + lp, () => [...beam.starts, t], () => [...beam.ends, t]);
      }
    }
    beams = new Map([...next.entries()].sort((a, b) => total(b[1]) - total(a[1])).slice(0, settings.beamWidth));
  }

  let best: Beam | undefined;
  let bestScore = NEG;
  for (const beam of beams.values()) {
    const last = beam.tokens.length > 0 ? beam.tokens[beam.tokens.length - 1]! : 0;
    const score = total(beam) + settings.lmWeight * bigram.logProb[last * tokens]!;
    if (score > bestScore) {
      bestScore = score;
      best = beam;
    }
  }
  if (best === undefined) return [];
  return best.tokens.map((token, index) => {
    const firstFrame = best.starts[index]!;
    const lastFrame = Math.max(firstFrame, best.ends[index]!);
    let sum = 0;
    for (let t = firstFrame; t <= lastFrame; t += 1) sum += Math.exp(logProbs[t * tokens + token]!);
    return { token, firstFrame, lastFrame, confidence: sum / (lastFrame - firstFrame + 1) };
  });
}

/** Greedy (best path) decoding: the baseline the beam is measured against. */
export function decodeGreedy(logProbs: Float32Array, steps: number, tokens: number): number[] {
  const out: number[] = [];
  let previous = 0;
  for (let t = 0; t < steps; t += 1) {
    let best = 0;
    for (let k = 1; k < tokens; k += 1) if (logProbs[t * tokens + k]! > logProbs[t * tokens + best]!) best = k;
    if (best !== 0 && best !== previous) out.push(best);
    previous = best;
  }
  return out;
}
