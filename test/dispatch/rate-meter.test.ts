import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../services/dispatch/rate-meter.ts';

describe('RateMeter', () => {
  it('counts events per ms over the last second and forgets older ones', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    for (let i = 0; i < 50; i += 1) {
      meter.record();
      now += 10; // 100 events per second for half a second
    }
    // 50 events in the last half second: about 0.05 per ms over the one-second window.
    expect(meter.perMs()).toBeGreaterThan(0.045);
    expect(meter.perMs()).toBeLessThan(0.06);
    now += 1500;
    expect(meter.perMs()).toBe(0);
    meter.record(5);
    expect(meter.perMs()).toBeGreaterThan(0);
  });
});
