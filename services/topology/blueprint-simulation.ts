/**
 * What `mec up` (and `mec blueprint up --simulate`) runs beside a blueprint's tiers so that there is
 * something to watch: a phone sending photos through the device-mec link (when the MEC node serves
 * detect) and each camera the blueprint declares on the running MEC node streaming frames at its fps.
 * Cameras stream in rounds: each round's ledger is summarised in one line and dropped, so a trial
 * left running for days does not grow.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { simulateCameras, type CameraReport } from '../client/camera/simulate.ts';
import type { PlannedCamera } from '../blueprint/local-plan.ts';
import { startSimulatedDevice } from './simulated-device.ts';

export interface BlueprintSimulationOptions {
  /** Where devices and WebSocket cameras connect: the MEC node behind the device-mec link. */
  deviceToMecUrl: string;
  /** The broker MQTT cameras publish to. */
  mqttUrl: string;
  /** The MEC node's detector; unset: no simulated phone (the node serves no detect). */
  detector?: string;
  /** Milliseconds between a phone's photos; unset: no phone. */
  deviceIntervalMs?: number;
  cameras: readonly PlannedCamera[];
  /** Share of frames with a defect drawn in. */
  defectRate?: number;
  write: (line: string) => void;
}

export interface BlueprintSimulation {
  /** One line per simulated part, for the start-up summary. */
  parts: string[];
  close(): Promise<void>;
}

/** A round's worth of frames: about a minute at 2 fps, at least 30. */
const ROUND_SECONDS = 60;
/** Distinct frames rendered per camera and cycled: rendering is the camera's own cost, not the node's. */
const DISTINCT_FRAMES = 24;
const RETRY_MS = 10_000;

function summarizeRound(camera: CameraReport): string {
  const errors = Object.entries(camera.errors).map(([code, count]) => `${code} ${count}`).join(', ');
  return (
    `${camera.sent} frames sent, ${camera.results} answered (p50 ${camera.latency_ms.p50} ms), ` +
    `defects flagged ${camera.check.detected}/${camera.check.defective_answered}, false alarms ${camera.check.false_alarms}/${camera.check.good_answered}` +
    (errors ? `; errors: ${errors}` : '') +
    (camera.unanswered > 0 ? `; unanswered ${camera.unanswered}` : '')
  );
}

async function streamCamera(camera: PlannedCamera, options: BlueprintSimulationOptions, signal: AbortSignal): Promise<void> {
  const transport = camera.transport === 'mqtt' ? { mqtt: options.mqttUrl } : { ws: options.deviceToMecUrl.replace(/^http/, 'ws') };
  for (let round = 1; !signal.aborted; round += 1) {
    try {
      const report = await simulateCameras({
        fps: camera.fps,
        surface: camera.surface,
        defectRate: options.defectRate ?? 0.1,
        cameraId: camera.id,
        count: Math.max(30, Math.round(camera.fps * ROUND_SECONDS)),
        distinctFrames: DISTINCT_FRAMES,
        seed: round,
        timeoutMs: 5_000,
        signal,
        drainSignal: signal,
        ...transport,
      });
      if (!signal.aborted) options.write(`[camera ${camera.id}] ${summarizeRound(report.total)}`);
    } catch (error) {
      if (signal.aborted) return;
      options.write(`[camera ${camera.id}] ${(error as Error).message}; trying again in ${RETRY_MS / 1000} s`);
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
  }
}

export async function startBlueprintSimulation(options: BlueprintSimulationOptions): Promise<BlueprintSimulation> {
  const parts: string[] = [];
  const device =
    options.detector !== undefined && options.deviceIntervalMs !== undefined
      ? await startSimulatedDevice({ mecUrl: options.deviceToMecUrl, intervalMs: options.deviceIntervalMs, write: options.write })
      : undefined;
  if (device) parts.push(`a phone sending a photo every ${options.deviceIntervalMs} ms through ${options.deviceToMecUrl} ([device] lines)`);
  const stop = new AbortController();
  const streams = options.cameras.map((camera) => streamCamera(camera, options, stop.signal));
  for (const camera of options.cameras) {
    const via = camera.transport === 'mqtt' ? `MQTT ${options.mqttUrl}` : `WebSocket ${options.deviceToMecUrl.replace(/^http/, 'ws')}`;
    parts.push(`camera ${camera.id}: ${camera.surface}, ${camera.fps} fps over ${via} ([camera] line a minute)`);
  }
  return {
    parts,
    async close() {
      stop.abort();
      await Promise.all([device?.close(), ...streams]);
    },
  };
}
