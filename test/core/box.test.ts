import { describe, expect, it } from 'vitest';
import { boxesOverlap } from '../../services/core/box.ts';

describe('boxesOverlap', () => {
  it('needs shared area, not a shared edge', () => {
    expect(boxesOverlap({ x: 0, y: 0, width: 10, height: 10 }, { x: 9, y: 9, width: 5, height: 5 })).toBe(true);
    expect(boxesOverlap({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 5, height: 5 })).toBe(false);
  });
});
