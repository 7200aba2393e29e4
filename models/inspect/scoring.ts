/**
 * Scoring helper of the inspection evaluations: AUROC.
 */
/** Area under the ROC curve = P(score of a positive > score of a negative), ties counting half (Mann-Whitney U). */
export function auroc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) return Number.NaN;
  const all = [...positives.map((score) => ({ score, positive: true })), ...negatives.map((score) => ({ score, positive: false }))].sort((a, b) => a.score - b.score);
  // Average ranks over ties.
  let rankSumPositive = 0;
  for (let start = 0; start < all.length; ) {
    let end = start;
    while (end + 1 < all.length && all[end + 1]!.score === all[start]!.score) end += 1;
    const rank = (start + end) / 2 + 1;
    for (let index = start; index <= end; index += 1) if (all[index]!.positive) rankSumPositive += rank;
    start = end + 1;
  }
  const u = rankSumPositive - (positives.length * (positives.length + 1)) / 2;
  return u / (positives.length * negatives.length);
}
