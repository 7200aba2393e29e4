/**
 * The defect model's tensors. Contract (models/repository/defect/card.json): input `image`
 * [n, 3, S, S] RGB in [0, 1]; outputs `defect_map` [n, 1, S/k, S/k] per-cell defect probability
 * at stride k, and `score` [n] the tile's defect probability. Tiles travel as 8-bit pixels and are
 * widened to float on the worker (Tensor.pixels): a quarter of the bytes across threads.
 */
import type { ModelSignature, Tensor } from '../../core/contracts.ts';
import { floatOutput, unsuitable } from '../common/model-io.ts';
import type { Grid } from './regions.ts';
import type { TilePlan } from './tiling.ts';

export const INPUT = 'image';
export const MAP_OUTPUT = 'defect_map';
export const SCORE_OUTPUT = 'score';

export interface BoundDefectModel {
  /** Tile side in pixels. */
  tileSize: number;
  /** Pixels per defect-map cell. */
  stride: number;
  outputs: readonly string[];
}

/** Checks the signature against the contract and reads the tile size and stride from it. */
export function bindDefectModel(model: string, signature: ModelSignature): BoundDefectModel {
  const input = signature.inputs.find((spec) => spec.name === INPUT);
  const map = signature.outputs.find((spec) => spec.name === MAP_OUTPUT);
  const score = signature.outputs.find((spec) => spec.name === SCORE_OUTPUT);
  if (!input || input.type !== 'float32' || input.dims.length !== 4 || input.dims[1] !== 3) throw unsuitable(model, `needs a float32 input "${INPUT}" [n, 3, S, S]`);
  const tileSize = input.dims[2]!;
  if (tileSize <= 0 || input.dims[3] !== tileSize) throw unsuitable(model, `input "${INPUT}" must be square with fixed sides, got ${JSON.stringify(input.dims)}`);
  if (!map || map.type !== 'float32' || map.dims.length !== 4 || map.dims[1] !== 1) throw unsuitable(model, `needs a float32 output "${MAP_OUTPUT}" [n, 1, h, w]`);
  const cells = map.dims[2]!;
  if (cells <= 0 || map.dims[3] !== cells || tileSize % cells !== 0) throw unsuitable(model, `output "${MAP_OUTPUT}" must be a square grid dividing the tile, got ${JSON.stringify(map.dims)}`);
  if (!score || score.type !== 'float32' || score.dims.length !== 1) throw unsuitable(model, `needs a float32 output "${SCORE_OUTPUT}" [n]`);
  return { tileSize, stride: tileSize / cells, outputs: [MAP_OUTPUT, SCORE_OUTPUT] };
}

/**
 * Cuts the tiles out of the scaled RGB raster into one batch [n, 3, S, S], still interleaved: a row
 * of a tile is a run of bytes in the raster, copied whole; the worker makes the planes as it widens
 * (PixelEncoding.interleaved), off the event loop.
 */
export function tilesToInput(rgb: Buffer, plan: TilePlan, tileSize: number): Tensor {
  const rowBytes = tileSize * 3;
  const data = new Uint8Array(plan.tiles.length * tileSize * rowBytes);
  plan.tiles.forEach((tile, index) => {
    const base = index * tileSize * rowBytes;
    for (let row = 0; row < tileSize; row += 1) {
      const source = ((tile.y + row) * plan.scaledWidth + tile.x) * 3;
      data.set(rgb.subarray(source, source + rowBytes), base + row * rowBytes);
    }
  });
  const unit = 1 / 255;
  return { type: 'float32', dims: [plan.tiles.length, 3, tileSize, tileSize], data, pixels: { scale: [unit, unit, unit], offset: [0, 0, 0], channelAxis: 1, interleaved: true } };
}

/** The tiles' maps stitched onto the scaled image's grid (overlaps keep the larger value), and the largest tile score. */
export function stitch(outputs: Record<string, Tensor>, plan: TilePlan, bound: BoundDefectModel): { grid: Grid; score: number } {
  const cells = bound.tileSize / bound.stride;
  const maps = floatOutput(outputs, MAP_OUTPUT, plan.tiles.length * cells * cells);
  const scores = floatOutput(outputs, SCORE_OUTPUT, plan.tiles.length);
  const width = plan.scaledWidth / bound.stride;
  const height = plan.scaledHeight / bound.stride;
  const values = new Float32Array(width * height);
  plan.tiles.forEach((tile, index) => {
    const offsetX = tile.x / bound.stride;
    const offsetY = tile.y / bound.stride;
    for (let row = 0; row < cells; row += 1) {
      for (let column = 0; column < cells; column += 1) {
        const target = (offsetY + row) * width + offsetX + column;
        values[target] = Math.max(values[target]!, maps[index * cells * cells + row * cells + column]!);
      }
    }
  });
  let score = 0;
  for (const value of scores) score = Math.max(score, value);
  return { grid: { width, height, values }, score: Math.min(1, Math.max(0, score)) };
}
