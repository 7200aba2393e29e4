import { describe, expect, it } from 'vitest';
import { scoreGroup, tokens, topConfusions, wordErrors } from '../../models/asr/scoring.ts';

describe('wordErrors', () => {
  it('is zero errors for the same words, whatever the case and spacing', () => {
    const result = wordErrors('Go forward  ten meters', ' go forward ten METERS ');
    expect(result).toEqual({ words: 4, substitutions: 0, deletions: 0, insertions: 0, errors: 0, substituted: [] });
  });

  it('counts one substitution and names the pair', () => {
    const result = wordErrors('set pressure to four point two bar', 'set pressure to four point too bar');
    expect(result.substitutions).toBe(1);
    expect(result.deletions + result.insertions).toBe(0);
    expect(result.substituted).toEqual([['two', 'too']]);
  });

  it('counts a dropped word as a deletion and an extra word as an insertion', () => {
    expect(wordErrors('stop conveyor two', 'stop two')).toMatchObject({ words: 3, deletions: 1, substitutions: 0, insertions: 0, errors: 1 });
    expect(wordErrors('stop conveyor two', 'stop the conveyor two')).toMatchObject({ words: 3, insertions: 1, substitutions: 0, deletions: 0, errors: 1 });
  });

  it('scores an empty hypothesis as all deletions and an empty reference as all insertions', () => {
    expect(wordErrors('open valve three', '')).toMatchObject({ words: 3, deletions: 3, errors: 3 });
    expect(wordErrors('', 'open valve')).toMatchObject({ words: 0, insertions: 2, errors: 2 });
  });

  it('finds the minimum edit distance, not a position-by-position comparison', () => {
    // Shifted by one word: position by position all 4 differ; the alignment needs 1 deletion + 1 insertion.
    const result = wordErrors('one two three four', 'two three four five');
    expect(result.errors).toBe(2);
    expect(result).toMatchObject({ deletions: 1, insertions: 1, substitutions: 0 });
  });

  it('errors can exceed the reference length (WER above 100%)', () => {
    expect(wordErrors('stop', 'go back to the gate').errors).toBe(5);
  });

  it('accepts token arrays as well as strings', () => {
    expect(wordErrors(['raise', 'gate'], ['lower', 'gate']).substituted).toEqual([['raise', 'lower']]);
    expect(tokens(' A  b\tc\n')).toEqual(['a', 'b', 'c']);
  });
});

describe('scoreGroup', () => {
  it('sums errors and words over the group before dividing', () => {
    const score = scoreGroup([wordErrors('one', 'two'), wordErrors('one two three four five six seven eight nine', 'one two three four five six seven eight nine')]);
    // Per-clip average would be (1 + 0) / 2 = 0.5; the group rate is 1 / 10.
    expect(score).toEqual({ clips: 2, words: 10, errors: 1, wer: 0.1, sentenceAccuracy: 0.5 });
  });

  it('is NaN for an empty group', () => {
    const score = scoreGroup([]);
    expect(score.wer).toBeNaN();
    expect(score.sentenceAccuracy).toBeNaN();
  });
});

describe('topConfusions', () => {
  it('counts substitution pairs, most frequent first, ties alphabetical, cut at `top`', () => {
    const results = [wordErrors('five nine', 'fine nine'), wordErrors('five', 'fine'), wordErrors('off on', 'on on'), wordErrors('bar', 'belt')];
    expect(topConfusions(results, 2)).toEqual([
      { reference: 'five', recognised: 'fine', count: 2 },
      { reference: 'bar', recognised: 'belt', count: 1 },
    ]);
  });
});
