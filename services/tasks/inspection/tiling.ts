/**
 * How an image of any size meets a model that sees fixed square tiles. Defect models are trained
 * at one scale (a scratch is a few pixels wide), so images are not shrunk to one tile: they are
 * covered by overlapping tiles at their own scale, and only scaled down when they would need more
 * than `maxTiles` tiles. An image smaller than a tile is scaled up until its shorter side fills it.
 *
 * Tile positions and the scaled size are multiples of the defect map's stride, so the tiles' maps
 * stitch onto one grid without resampling.
 */

export interface TilePlan {
  /** Size the image is resampled to before it is cut (multiples of the stride, each >= tileSize). */
  scaledWidth: number;
  scaledHeight: number;
  /** Top-left corners of the tiles in the scaled image. */
  tiles: { x: number; y: number }[];
}

/** Evenly spread starts from 0 to length - tile (overlapping when length is not a multiple), on the stride grid. */
function starts(length: number, tile: number, stride: number): number[] {
  const count = Math.ceil(length / tile);
  if (count === 1) return [0];
  const last = length - tile;
  return Array.from({ length: count }, (_, index) => Math.round((index * last) / (count - 1) / stride) * stride);
}

const roundUp = (value: number, step: number): number => Math.ceil(value / step) * step;

/** The largest scale at which the image needs at most `maxTiles` tiles (any split of them into columns and rows). */
function largestScaleWithin(width: number, height: number, tileSize: number, maxTiles: number): number {
  let best = 0;
  for (let columns = 1; columns <= maxTiles; columns += 1) {
    const rows = Math.floor(maxTiles / columns);
    best = Math.max(best, Math.min((columns * tileSize) / width, (rows * tileSize) / height));
  }
  return best;
}

export function planTiles(width: number, height: number, tileSize: number, stride: number, maxTiles: number): TilePlan {
  // Small images grow until the shorter side fills a tile; large ones keep their scale unless the tile budget forces a shrink.
  const natural = Math.max(1, tileSize / Math.min(width, height));
  const scale = Math.min(natural, largestScaleWithin(width, height, tileSize, maxTiles));
  // A side still shorter than a tile (extreme aspect ratios under the tile budget) is stretched to one tile.
  const scaledWidth = Math.max(tileSize, roundUp(Math.round(width * scale), stride));
  const scaledHeight = Math.max(tileSize, roundUp(Math.round(height * scale), stride));
  const xs = starts(scaledWidth, tileSize, stride);
  const ys = starts(scaledHeight, tileSize, stride);
  return { scaledWidth, scaledHeight, tiles: ys.flatMap((y) => xs.map((x) => ({ x, y }))) };
}
