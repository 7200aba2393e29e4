/**
 * Greedy coreset (PatchCore section 3.2): iteratively pick the patch farthest from everything picked
 * so far (k-center), so that a tenth of the patches covers the feature space almost as well as all.
 * Distances during selection use a seeded Gaussian projection to a few dims (Johnson-Lindenstrauss),
 * as the paper does, which keeps the selection fast in plain JavaScript.
 */

/** Deterministic PRNG (mulberry32) so that banks are reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function project(features: Float32Array, count: number, dims: number, projectedDims: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const matrix = new Float32Array(dims * projectedDims);
  for (let i = 0; i < matrix.length; i++) matrix[i] = gaussian(random) / Math.sqrt(projectedDims);
  const out = new Float32Array(count * projectedDims);
  for (let row = 0; row < count; row++) {
    const source = row * dims;
    const target = row * projectedDims;
    for (let d = 0; d < dims; d++) {
      const value = features[source + d]!;
      const weights = d * projectedDims;
      for (let k = 0; k < projectedDims; k++) out[target + k]! += value * matrix[weights + k]!;
    }
  }
  return out;
}

/**
 * Indices of `target` rows of `features` ([count, dims], row-major) chosen by greedy k-center
 * selection in a `projectedDims`-dim random projection, starting from a seeded random row.
 */
export function greedyCoreset(features: Float32Array, count: number, dims: number, target: number, projectedDims = 64, seed = 1): Int32Array {
  if (target >= count) return Int32Array.from({ length: count }, (_, i) => i);
  const projected = project(features, count, dims, projectedDims, seed);
  const nearest = new Float32Array(count).fill(Infinity);
  const chosen = new Int32Array(target);
  let next = Math.floor(mulberry32(seed + 1)() * count);
  for (let step = 0; step < target; step++) {
    chosen[step] = next;
    const centre = next * projectedDims;
    let farthest = -1;
    let farthestDistance = -1;
    for (let row = 0; row < count; row++) {
      const base = row * projectedDims;
      let distance = 0;
      for (let k = 0; k < projectedDims; k++) {
        const diff = projected[base + k]! - projected[centre + k]!;
        distance += diff * diff;
      }
      const current = Math.min(nearest[row]!, distance);
      nearest[row] = current;
      if (current > farthestDistance) {
        farthestDistance = current;
        farthest = row;
      }
    }
    next = farthest;
  }
  return chosen;
}
