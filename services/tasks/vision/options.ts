/**
 * Request options of the vision tasks, checked before any work, with defaults from the model card.
 */
import type { ModelCard } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import { SCORE_FLOOR } from './detector.ts';

export const MAX_RESULTS_LIMIT = 1000;

/** Used only when a card names no default of its own. */
const FALLBACK = { threshold: 0.3, maxDetections: 100, iouThreshold: 0.5 } as const;

export interface ResultLimits {
  threshold: number;
  max: number;
  iouThreshold: number;
}

function invalid(field: string, expected: string, value: unknown): EdgeError {
  return new EdgeError('EDGE_ERR_QUERY_INVALID', `${field} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`, {
    details: { field },
  });
}

/**
 * Throws EDGE_ERR_QUERY_INVALID unless threshold is in [0, 1], max an integer in [1, 1000] and
 * timeoutMs a positive number (each when given).
 */
export function checkOptions({ threshold, max, timeoutMs }: { threshold?: unknown; max?: unknown; timeoutMs?: unknown }): void {
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw invalid('timeoutMs', 'a positive number of milliseconds', timeoutMs);
  }
  if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1)) {
    throw invalid('threshold', 'a number from 0 to 1', threshold);
  }
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS_LIMIT)) {
    throw invalid('max', `an integer from 1 to ${MAX_RESULTS_LIMIT}`, max);
  }
}

function cardNumber(card: ModelCard, key: string, low: number, high: number): number | undefined {
  const value = card.defaults[key];
  return typeof value === 'number' && Number.isFinite(value) && value >= low && value <= high ? value : undefined;
}

/** The caller's limits (already checked) over the card's defaults over the fallbacks. */
export function resolveLimits(card: ModelCard, threshold: number | undefined, max: number | undefined): ResultLimits {
  return {
    threshold: Math.max(SCORE_FLOOR, threshold ?? cardNumber(card, 'threshold', 0, 1) ?? FALLBACK.threshold),
    max: max ?? Math.round(cardNumber(card, 'maxDetections', 1, MAX_RESULTS_LIMIT) ?? FALLBACK.maxDetections),
    iouThreshold: cardNumber(card, 'iouThreshold', 0, 1) ?? FALLBACK.iouThreshold,
  };
}
