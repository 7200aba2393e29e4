/**
 * The simulated device of a local topology: the device SDK (services/client/device) sending real
 * photos through the device-mec link on an interval, cycling through the data classes, and
 * printing where each one ran and why. One request at a time: a slow tier slows the device down
 * instead of piling requests up.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.ts';
import { toEdgeError } from '../core/errors.ts';
import { DeviceClient } from '../client/device/index.ts';
import type { DataClass } from '../scheduler/types.ts';

export interface SimulatedDeviceOptions {
  mecUrl: string;
  intervalMs: number;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
}

const PHOTOS = ['dog.jpg', 'person.jpg', 'horses.jpg'];
const CLASSES: DataClass[] = ['public', 'internal', 'restricted'];

export async function startSimulatedDevice(options: SimulatedDeviceOptions): Promise<{ close(): Promise<void> }> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const photos = PHOTOS.map((name) => ({ name, bytes: readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images', name)) }));
  // A phone or camera SoC is slower than this machine: the device weighs its own compute three
  // times what it measures here (its estimates only; the timings it reports are real).
  const device = await DeviceClient.start({ mecUrl: options.mecUrl, deviceSlowdown: 3 });
  let stopped = false;
  let sent = 0;
  const loop = (async () => {
    while (!stopped) {
      const photo = photos[sent % photos.length]!;
      const dataClass = CLASSES[Math.floor(sent / photos.length) % CLASSES.length]!;
      sent += 1;
      try {
        const { result, placement } = await device.detect(photo.bytes, { dataClass });
        const found = ((result.detections as { label: string }[] | undefined) ?? []).slice(0, 3).map((d) => d.label).join(', ') || 'nothing';
        write(
          `[device] ${photo.name} (${dataClass}) -> ${placement.tier} ${placement.model} (${placement.reason}${placement.escalated ? ', escalated' : ''}): ` +
            `predicted ${placement.predicted_ms} ms, actual ${placement.actual_ms} ms; found ${found}`,
        );
      } catch (error) {
        const edge = toEdgeError(error);
        write(`[device] ${photo.name} (${dataClass}) failed: ${edge.code}: ${edge.message}`);
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, options.intervalMs).unref());
    }
  })();
  return {
    async close() {
      stopped = true;
      await loop;
      await device.close();
    },
  };
}
