/**
 * Box arithmetic the tasks, the evaluation and the camera simulator share.
 */
import type { Box } from './contracts.ts';

/** Boxes share area (IoU > 0); touching edges do not count. */
export function boxesOverlap(a: Box, b: Box): boolean {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return width > 0 && height > 0;
}
