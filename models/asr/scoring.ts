/**
 * Scores a recogniser's transcripts against the truth, the way speech papers and NIST's sclite do:
 * the word error rate of a set is (substitutions + deletions + insertions) / reference words,
 * summed over the set before dividing (not an average of per-clip rates, which would let a
 * two-word clip weigh as much as a twelve-word one).
 *
 * wordErrors() aligns one reference with one hypothesis by word-level Levenshtein distance and
 * also names the substituted pairs, so eval:asr can show which words get confused.
 */

export interface WordErrors {
  /** Words in the reference (N). */
  words: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  /** S + D + I: the edit distance. */
  errors: number;
  /** Each substitution as [reference word, recognised word], in reference order. */
  substituted: Array<[string, string]>;
}

export interface GroupScore {
  clips: number;
  words: number;
  errors: number;
  /** errors / words over the whole group; NaN for a group without reference words. */
  wer: number;
  /** Share of clips recognised exactly (no error at all). */
  sentenceAccuracy: number;
}

/** Lower case, split on white space: the vocabulary is lower-case words without punctuation. */
export function tokens(text: string): string[] {
  return text.toLowerCase().split(/\s+/).filter((word) => word.length > 0);
}

/**
 * Minimum edit alignment of `hypothesis` to `reference`. Among equally short alignments the
 * backtrace prefers a match or substitution over a deletion + insertion pair, as sclite does,
 * so "one two" -> "one too" counts 1 substitution, not 1 deletion and 1 insertion.
 */
export function wordErrors(reference: string | readonly string[], hypothesis: string | readonly string[]): WordErrors {
  const ref = typeof reference === 'string' ? tokens(reference) : [...reference];
  const hyp = typeof hypothesis === 'string' ? tokens(hypothesis) : [...hypothesis];
  const rows = ref.length + 1;
  const cols = hyp.length + 1;
  // cost[i * cols + j]: edit distance between ref[0..i) and hyp[0..j).
  const cost = new Uint32Array(rows * cols);
  for (let i = 0; i < rows; i += 1) cost[i * cols] = i;
  for (let j = 0; j < cols; j += 1) cost[j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const diagonal = cost[(i - 1) * cols + j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      const deletion = cost[(i - 1) * cols + j]! + 1;
      const insertion = cost[i * cols + j - 1]! + 1;
      cost[i * cols + j] = Math.min(diagonal, deletion, insertion);
    }
  }

  let substitutions = 0;
  let deletions = 0;
  let insertions = 0;
  const substituted: Array<[string, string]> = [];
  let i = ref.length;
  let j = hyp.length;
  while (i > 0 || j > 0) {
    const here = cost[i * cols + j]!;
    if (i > 0 && j > 0) {
      const same = ref[i - 1] === hyp[j - 1];
      if (here === cost[(i - 1) * cols + j - 1]! + (same ? 0 : 1)) {
        if (!same) {
          substitutions += 1;
          substituted.push([ref[i - 1]!, hyp[j - 1]!]);
        }
        i -= 1;
        j -= 1;
        continue;
      }
    }
    if (i > 0 && here === cost[(i - 1) * cols + j]! + 1) {
      deletions += 1;
      i -= 1;
    } else {
      insertions += 1;
      j -= 1;
    }
  }
  substituted.reverse();
  return { words: ref.length, substitutions, deletions, insertions, errors: substitutions + deletions + insertions, substituted };
}

/** WER and sentence accuracy of a group of clips, from their wordErrors(). */
export function scoreGroup(results: readonly WordErrors[]): GroupScore {
  const words = results.reduce((sum, result) => sum + result.words, 0);
  const errors = results.reduce((sum, result) => sum + result.errors, 0);
  const exact = results.filter((result) => result.errors === 0).length;
  return {
    clips: results.length,
    words,
    errors,
    wer: words === 0 ? Number.NaN : errors / words,
    sentenceAccuracy: results.length === 0 ? Number.NaN : exact / results.length,
  };
}

/** The `top` most frequent substitution pairs, most frequent first (ties: alphabetical, for a stable table). */
export function topConfusions(results: readonly WordErrors[], top: number): Array<{ reference: string; recognised: string; count: number }> {
  const counts = new Map<string, number>();
  for (const result of results) {
    for (const [reference, recognised] of result.substituted) {
      const key = `${reference}\u0000${recognised}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .map(([key, count]) => {
      const [reference, recognised] = key.split('\u0000') as [string, string];
      return { reference, recognised, count };
    })
    .sort((a, b) => b.count - a.count || a.reference.localeCompare(b.reference) || a.recognised.localeCompare(b.recognised))
    .slice(0, top);
}
