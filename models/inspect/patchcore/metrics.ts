/** Detection metrics for the comparison: image AUROC and whether the hottest map cell lands on a defect. */

export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Area under the ROC curve = probability that a random positive scores above a random negative
 * (ties count half), computed from ranks (Mann-Whitney U). NaN when a class is missing.
 */
export function auroc(scores: readonly number[], positive: readonly boolean[]): number {
  const order = scores.map((score, index) => ({ score, index })).sort((a, b) => a.score - b.score);
  const ranks = new Float64Array(scores.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]!.score === order[start]!.score) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) ranks[order[i]!.index] = averageRank;
    start = end + 1;
  }
  let positives = 0;
  let rankSum = 0;
  positive.forEach((isPositive, index) => {
    if (isPositive) {
      positives++;
      rankSum += ranks[index]!;
    }
  });
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Localisation hit: the map's highest cell, as the pixel square it covers in a frameSize frame,
 * overlaps one of the true defect boxes. Threshold-free, so methods with different score scales
 * compare fairly.
 */
export function hottestCellHits(map: Float32Array, gridSize: number, frameSize: number, boxes: readonly PixelBox[]): boolean {
  let best = 0;
  for (let i = 1; i < gridSize * gridSize; i++) if (map[i]! > map[best]!) best = i;
  const cell = frameSize / gridSize;
  const x0 = (best % gridSize) * cell;
  const y0 = Math.floor(best / gridSize) * cell;
  return boxes.some((box) => x0 < box.x + box.width && box.x < x0 + cell && y0 < box.y + box.height && box.y < y0 + cell);
}

/** Mean and standard deviation, for z-scoring a method's scores against defect-free calibration frames. */
export function meanAndDeviation(values: readonly number[]): { mean: number; deviation: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, deviation: Math.sqrt(variance) || 1e-6 };
}
