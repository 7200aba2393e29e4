/**
 * What every object detector's pre/post-processing offers the detect task, plus the checks they share.
 */
import type { Detection, ModelSignature, Tensor } from '../../core/contracts.ts';
import type { ImageSource } from '../common/image.ts';
import type { Frame } from './pixels.ts';
import { toImageBox, type Candidate } from './geometry.ts';

/** Scores below this are noise whatever the caller asked for: it keeps threshold 0 from flooding NMS. */
export const SCORE_FLOOR = 0.001;

export interface DetectorSettings {
  /** Lowest score reported, SCORE_FLOOR..1. */
  threshold: number;
  /** Most detections reported. */
  max: number;
  /** Overlap above which the weaker of two same-class boxes is dropped. */
  iouThreshold: number;
  /** Class index -> name, from the model card. */
  labels: readonly string[];
}

export interface PreparedInput {
  inputs: Record<string, Tensor>;
  frame: Frame;
}

/** The image decoded and resized to a model's input: 8-bit RGB, and how it maps to the original. */
export interface Resampled {
  rgb: Buffer;
  frame: Frame;
}

/** A detector bound to one loaded model's signature (tensor names and sizes resolved). */
export interface BoundDetector {
  /** The outputs the post-processing reads; the runtime need not return others. */
  outputs: readonly string[];
  /** Decodes and resizes the image to the model's input (libvips, off the main thread). */
  resample(image: ImageSource): Promise<Resampled>;
  /** Lays the resampled pixels out as the model's input tensors. */
  toInputs(resampled: Resampled): PreparedInput;
  postprocess(outputs: Record<string, Tensor>, frame: Frame, settings: DetectorSettings): Detection[];
}

export interface DetectorCodec {
  /** Throws EDGE_ERR_MODEL_UNSUITABLE when the signature is not the one this decoder understands. */
  bind(model: string, signature: ModelSignature): BoundDetector;
}

export function labelOf(labels: readonly string[], classIndex: number): string {
  return labels[classIndex] ?? `class_${classIndex}`;
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/** Kept candidates -> detections in original-image pixels (boxes with no area left are dropped). */
export function toDetections(kept: readonly Candidate[], frame: Frame, labels: readonly string[]): Detection[] {
  const detections: Detection[] = [];
  for (const candidate of kept) {
    const box = toImageBox(candidate, frame);
    if (box) detections.push({ label: labelOf(labels, candidate.classIndex), score: round4(Math.min(1, Math.max(0, candidate.score))), box });
  }
  return detections;
}
