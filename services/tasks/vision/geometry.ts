/**
 * Boxes in model-input pixels, non-maximum suppression and the mapping back to original pixels.
 */
import type { Box } from '../../core/contracts.ts';
import type { Frame } from './pixels.ts';

/** A box as corners in model-input pixels, before it is mapped to the original image. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classIndex: number;
}

export function intersectionOverUnion(a: Candidate, b: Candidate): number {
  const width = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const height = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - intersection;
  return union > 0 ? intersection / union : 0;
}

export interface SuppressionOptions {
  iouThreshold: number;
  max: number;
  /** Only boxes of the same class suppress each other (a car and a truck on one spot both stay). */
  perClass: boolean;
  /** Replace each kept box by the score-weighted mean of the boxes it suppressed (MediaPipe's weighted NMS). */
  blend?: boolean;
}

/** Only this many best candidates enter NMS, which is quadratic (NanoDet's nms_pre). */
export const MAX_CANDIDATES = 1000;

/** Greedy NMS, highest score first; returns at most `max` candidates sorted by score. */
export function suppressOverlaps(candidates: readonly Candidate[], options: SuppressionOptions): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score).slice(0, MAX_CANDIDATES);
  const suppressed = new Uint8Array(sorted.length);
  const kept: Candidate[] = [];
  for (let i = 0; i < sorted.length && kept.length < options.max; i++) {
    if (suppressed[i]) continue;
    const best = sorted[i]!;
    let weight = best.score;
    let x1 = best.x1 * weight;
    let y1 = best.y1 * weight;
    let x2 = best.x2 * weight;
    let y2 = best.y2 * weight;
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const other = sorted[j]!;
      if (options.perClass && other.classIndex !== best.classIndex) continue;
      if (intersectionOverUnion(best, other) > options.iouThreshold) {
        suppressed[j] = 1;
        if (options.blend) {
          weight += other.score;
          x1 += other.x1 * other.score;
          y1 += other.y1 * other.score;
          x2 += other.x2 * other.score;
          y2 += other.y2 * other.score;
        }
      }
    }
    kept.push(options.blend ? { ...best, x1: x1 / weight, y1: y1 / weight, x2: x2 / weight, y2: y2 / weight } : best);
  }
  return kept;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/**
 * Maps a candidate's corners from model-input pixels to original-image pixels, clipped to the image.
 * Returns undefined for a box that has no area left inside the image.
 */
export function toImageBox(candidate: Candidate, frame: Frame): Box | undefined {
  const x1 = clamp((candidate.x1 - frame.padX) / frame.scaleX, 0, frame.width);
  const y1 = clamp((candidate.y1 - frame.padY) / frame.scaleY, 0, frame.height);
  const x2 = clamp((candidate.x2 - frame.padX) / frame.scaleX, 0, frame.width);
  const y2 = clamp((candidate.y2 - frame.padY) / frame.scaleY, 0, frame.height);
  if (x2 - x1 < 1e-3 || y2 - y1 < 1e-3) return undefined;
  return { x: round2(x1), y: round2(y1), width: round2(x2 - x1), height: round2(y2 - y1) };
}

/** An integer box grown around its centre by `factor`, made square, and clipped to the image. */
export function squareCrop(box: Box, factor: number, width: number, height: number): Box {
  const side = Math.max(box.width, box.height) * factor;
  const centreX = box.x + box.width / 2;
  const centreY = box.y + box.height / 2;
  const x1 = clamp(Math.round(centreX - side / 2), 0, width - 1);
  const y1 = clamp(Math.round(centreY - side / 2), 0, height - 1);
  const x2 = clamp(Math.round(centreX + side / 2), x1 + 1, width);
  const y2 = clamp(Math.round(centreY + side / 2), y1 + 1, height);
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}
