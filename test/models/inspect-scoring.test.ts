import { describe, expect, it } from 'vitest';
import { auroc } from '../../models/inspect/scoring.ts';

describe('auroc', () => {
  it('is 1 when every positive outscores every negative, 0 when the reverse, 0.5 for ties', () => {
    expect(auroc([0.9, 0.8], [0.1, 0.2, 0.3])).toBe(1);
    expect(auroc([0.1], [0.9, 0.8])).toBe(0);
    expect(auroc([0.5, 0.5], [0.5])).toBe(0.5);
  });

  it('counts pairs: 3 of 4 positive-negative pairs ordered right is 0.75', () => {
    expect(auroc([0.4, 0.9], [0.5, 0.1])).toBe(0.75);
  });

  it('is NaN without both classes', () => {
    expect(auroc([], [0.1])).toBeNaN();
  });
});
