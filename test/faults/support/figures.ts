/**
 * Figures of the fault suite: each scenario records its measured figures and whether each target
 * was met; the suite's global teardown prints them as one table (test/faults/support/print-table.ts).
 * Files go to .faults/ under the project root, one per scenario, so scenarios in separate forks
 * never share memory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../services/core/config.ts';

export const FIGURES_DIR = path.join(PROJECT_ROOT, '.faults');

export interface Figure {
  /** What was measured, e.g. "accepted jobs lost". */
  name: string;
  /** The measured value, with its unit in the text when it has one: "0", "412 ms", "3 (<= 7 in flight)". */
  value: string;
  /** The target as the issue states it, e.g. "0" or "<= 1000 ms". */
  target: string;
  met: boolean;
}

/** Scale of the suite: FAULTS_FULL=1 runs the sizes (2,000 jobs, a 2-minute cut); CI runs the quick sizes. */
export const FULL = process.env.FAULTS_FULL === '1';

export function recordFigures(scenario: string, figures: readonly Figure[]): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = path.join(FIGURES_DIR, `${scenario.replace(/[^A-Za-z0-9_-]+/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ scenario, figures, at: new Date().toISOString() }, null, 2));
}
