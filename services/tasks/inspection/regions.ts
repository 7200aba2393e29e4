/**
 * Defect regions from a probability grid: cells at or above a threshold, joined into 8-connected
 * components, each reported as its bounding box and its highest probability.
 */

export interface Grid {
  width: number;
  height: number;
  /** Row-major probabilities, width x height. */
  values: Float32Array;
}

export interface CellRegion {
  /** Inclusive cell bounds. */
  left: number;
  top: number;
  right: number;
  bottom: number;
  score: number;
}

/** Components of cells >= threshold, strongest first, at most `max`. */
export function findRegions(grid: Grid, threshold: number, max: number): CellRegion[] {
  const { width, height, values } = grid;
  const seen = new Uint8Array(width * height);
  const stack: number[] = [];
  const regions: CellRegion[] = [];
  for (let start = 0; start < values.length; start += 1) {
    if (seen[start] || !(values[start]! >= threshold)) continue;
    seen[start] = 1;
    stack.push(start);
    const region: CellRegion = { left: width, top: height, right: -1, bottom: -1, score: 0 };
    while (stack.length > 0) {
      const cell = stack.pop()!;
      const x = cell % width;
      const y = (cell - x) / width;
      region.left = Math.min(region.left, x);
      region.right = Math.max(region.right, x);
      region.top = Math.min(region.top, y);
      region.bottom = Math.max(region.bottom, y);
      region.score = Math.max(region.score, values[cell]!);
      for (let dy = -1; dy <= 1; dy += 1) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx += 1) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const next = ny * width + nx;
          if (seen[next] || !(values[next]! >= threshold)) continue;
          seen[next] = 1;
          stack.push(next);
        }
      }
    }
    regions.push(region);
  }
  return regions.sort((a, b) => b.score - a.score).slice(0, max);
}

/** The grid's largest value (0 for an empty grid). */
export function peak(grid: Grid): number {
  let best = 0;
  for (const value of grid.values) if (value > best) best = value;
  return best;
}
