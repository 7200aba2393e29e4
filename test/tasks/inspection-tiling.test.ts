import { describe, expect, it } from 'vitest';
import { planTiles } from '../../services/tasks/inspection/tiling.ts';
import { findRegions, peak } from '../../services/tasks/inspection/regions.ts';

const covers = (plan: ReturnType<typeof planTiles>, size: number): boolean => {
  // Every scaled pixel row/column lies in some tile.
  const columns = new Uint8Array(plan.scaledWidth);
  const rows = new Uint8Array(plan.scaledHeight);
  for (const tile of plan.tiles) {
    columns.fill(1, tile.x, tile.x + size);
    rows.fill(1, tile.y, tile.y + size);
  }
  return columns.every((value) => value === 1) && rows.every((value) => value === 1);
};

describe('planTiles', () => {
  it('a frame of exactly one tile is one tile at its own scale', () => {
    expect(planTiles(256, 256, 256, 4, 16)).toEqual({ scaledWidth: 256, scaledHeight: 256, tiles: [{ x: 0, y: 0 }] });
  });

  it('a small image is scaled up until its shorter side fills a tile, keeping its aspect', () => {
    const plan = planTiles(100, 50, 256, 4, 16);
    expect(plan.scaledHeight).toBe(256);
    expect(plan.scaledWidth).toBe(512);
    expect(plan.tiles).toHaveLength(2);
    expect(covers(plan, 256)).toBe(true);
  });

  it('a larger image is covered by overlapping tiles at its own scale, on the stride grid', () => {
    const plan = planTiles(600, 300, 256, 4, 16);
    expect([plan.scaledWidth, plan.scaledHeight]).toEqual([600, 300]);
    expect(plan.tiles).toHaveLength(3 * 2);
    expect(covers(plan, 256)).toBe(true);
    for (const tile of plan.tiles) {
      expect(tile.x % 4).toBe(0);
      expect(tile.y % 4).toBe(0);
      expect(tile.x + 256).toBeLessThanOrEqual(plan.scaledWidth);
      expect(tile.y + 256).toBeLessThanOrEqual(plan.scaledHeight);
    }
  });

  it('an image that would need more than maxTiles tiles is scaled down to fit the budget', () => {
    const plan = planTiles(4000, 3000, 256, 4, 16);
    expect(plan.tiles.length).toBeLessThanOrEqual(16);
    expect(plan.scaledWidth / plan.scaledHeight).toBeCloseTo(4 / 3, 1);
    expect(covers(plan, 256)).toBe(true);
  });

  it('an extreme aspect ratio stays within the budget (the short side is stretched to one tile)', () => {
    const plan = planTiles(20000, 10, 256, 4, 8);
    expect(plan.tiles.length).toBeLessThanOrEqual(8);
    expect(plan.scaledHeight).toBe(256);
    expect(covers(plan, 256)).toBe(true);
  });
});

describe('findRegions', () => {
  const grid = (width: number, rows: number[][]) => ({ width, height: rows.length, values: Float32Array.from(rows.flat()) });

  it('joins 8-connected cells above the threshold into boxes, strongest first', () => {
    const regions = findRegions(
      grid(6, [
        [0.9, 0, 0, 0, 0, 0],
        [0, 0.7, 0, 0, 0, 0.6],
        [0, 0, 0, 0, 0, 0.95],
      ]),
      0.5,
      10,
    );
    expect(regions).toEqual([
      { left: 5, top: 1, right: 5, bottom: 2, score: expect.closeTo(0.95, 5) },
      { left: 0, top: 0, right: 1, bottom: 1, score: expect.closeTo(0.9, 5) },
    ]);
  });

  it('keeps at most `max` regions and ignores NaN cells', () => {
    const regions = findRegions(grid(5, [[0.6, 0, 0.7, 0, Number.NaN]]), 0.5, 1);
    expect(regions).toHaveLength(1);
    expect(regions[0]!.left).toBe(2);
  });

  it('peak is the largest value', () => {
    expect(peak(grid(3, [[0.1, 0.4, 0.2]]))).toBeCloseTo(0.4);
  });
});
