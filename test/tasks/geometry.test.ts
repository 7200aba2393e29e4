/**
 * Box arithmetic shared by the decoders: NMS and the mapping back to original pixels.
 */
import { describe, expect, it } from 'vitest';
import { intersectionOverUnion, squareCrop, suppressOverlaps, toImageBox, type Candidate } from '../../services/tasks/vision/geometry.ts';

const box = (x1: number, y1: number, x2: number, y2: number, score: number, classIndex = 0): Candidate => ({ x1, y1, x2, y2, score, classIndex });

describe('geometry', () => {
  it('IoU of identical, disjoint and half-overlapping boxes', () => {
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(0, 0, 10, 10, 1))).toBe(1);
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(20, 20, 30, 30, 1))).toBe(0);
    expect(intersectionOverUnion(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(1 / 3);
  });

  it('per-class NMS keeps a car and a truck on one spot, drops the weaker duplicate of one class', () => {
    const kept = suppressOverlaps([box(0, 0, 10, 10, 0.5, 2), box(0, 0, 10, 10, 0.3, 7), box(1, 0, 11, 10, 0.4, 2)], { iouThreshold: 0.5, max: 10, perClass: true });
    expect(kept.map((candidate) => [candidate.classIndex, candidate.score])).toEqual([[2, 0.5], [7, 0.3]]);
    const global = suppressOverlaps([box(0, 0, 10, 10, 0.5, 2), box(0, 0, 10, 10, 0.3, 7)], { iouThreshold: 0.5, max: 10, perClass: false });
    expect(global).toHaveLength(1);
  });

  it('NMS stops at max, best first', () => {
    const kept = suppressOverlaps([box(0, 0, 1, 1, 0.1), box(5, 5, 6, 6, 0.9), box(9, 9, 10, 10, 0.5)], { iouThreshold: 0.5, max: 2, perClass: true });
    expect(kept.map((candidate) => candidate.score)).toEqual([0.9, 0.5]);
  });

  it('weighted NMS blends the suppressed boxes into the kept one by score', () => {
    const [kept] = suppressOverlaps([box(0, 0, 10, 10, 0.75), box(2, 0, 12, 10, 0.25)], { iouThreshold: 0.3, max: 5, perClass: false, blend: true });
    expect(kept).toMatchObject({ x1: 0.5, x2: 10.5, score: 0.75 });
  });

  it('maps input pixels back through scale and padding, and clips to the image', () => {
    // A 200x100 image letterboxed into 100x100: scale 0.5, 25 px of padding above.
    const frame = { width: 200, height: 100, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 25 };
    expect(toImageBox(box(10, 35, 60, 60, 1), frame)).toEqual({ x: 20, y: 20, width: 100, height: 50 });
    expect(toImageBox(box(-10, 0, 120, 90, 1), frame)).toEqual({ x: 0, y: 0, width: 200, height: 100 });
    expect(toImageBox(box(0, 0, 100, 20, 1), frame)).toBeUndefined(); // only padding
  });

  it('square crops grow around the centre and stay inside the image', () => {
    expect(squareCrop({ x: 40, y: 40, width: 20, height: 10 }, 1, 100, 100)).toEqual({ x: 40, y: 35, width: 20, height: 20 });
    expect(squareCrop({ x: 0, y: 0, width: 50, height: 50 }, 2, 60, 60)).toEqual({ x: 0, y: 0, width: 60, height: 60 });
  });
});
