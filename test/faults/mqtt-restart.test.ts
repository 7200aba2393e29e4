/**
 * Fault scenario 4: the MQTT broker dies (SIGKILL) under camera streams and comes back on the same
 * port a few seconds later. A real node process (`mec serve`, model `defect`) is bridged to a private
 * Mosquitto; simulated cameras publish rendered frames and read their results over MQTT. Nobody
 * restarts anything but the broker: the cameras and the node's bridge must reconnect on their own.
 *
 * Figures: seconds from the broker's restart until results flow again for every camera; frames
 * lost, split into those sent around the outage (expected: the broker took them down with it, or a
 * camera could not send them) and those outside it (target 0); node readiness 200 throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCameras, type SimulationReport } from '../../services/client/camera/simulate.ts';
import type { FrameRecord } from '../../services/client/camera/ledger.ts';
import { privateBroker, type PrivateBroker } from '../support/mosquitto.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { waitFor } from '../support/wait-for.ts';
import { FULL, recordFigures } from './support/figures.ts';

const CAMERAS = FULL ? 4 : 3;
const FPS = 4;
const BEFORE_S = FULL ? 10 : 4;
const DOWN_S = FULL ? 10 : 3;
const AFTER_S = FULL ? 20 : 8;
/** Frames in flight when the broker died are lost with it: sent up to this long before the kill. */
const IN_FLIGHT_MS = 1_000;

const round2 = (value: number): number => Math.round(value * 100) / 100;

describe('fault 4: Mosquitto killed and restarted under camera streams', () => {
  let broker: PrivateBroker;
  let node: NodeProcess;

  beforeAll(async () => {
    broker = await privateBroker();
    node = await startNodeProcess(['--port', '0', '--models', 'defect', '--mqtt', broker.url, '--log-level', 'error']);
  });

  afterAll(async () => {
    await node?.stop();
    await broker?.close();
  });

  it('cameras and the node reconnect on their own; frames are lost only while the broker is down', async () => {
    // Readiness polled all along, from before the first frame to after the last answer.
    const health: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          health.push((await fetch(`${node.url}/v2/health/ready`, { signal: AbortSignal.timeout(2_000) })).status);
        } catch {
          health.push(0);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    // The node's bridge subscribes shortly after start; a probe camera's first answer proves it.
    await waitFor(async () => {
      const probe = await simulateCameras({ fps: 10, count: 2, surface: 'metal', defectRate: 0, mqtt: broker.url, cameraId: 'probe', timeoutMs: 2_000, connectTimeoutMs: 2_000 });
      return probe.total.results > 0;
    }, 'the node bridged to the broker', 30_000);

    let killAt = 0;
    let restartAt = 0;
    const outage = (async () => {
      await new Promise((resolve) => setTimeout(resolve, BEFORE_S * 1000));
      killAt = performance.now();
      await broker.kill();
      await new Promise((resolve) => setTimeout(resolve, DOWN_S * 1000));
      await broker.start();
      restartAt = performance.now();
    })();
    const report: SimulationReport = await simulateCameras({
      fps: FPS,
      count: FPS * (BEFORE_S + DOWN_S + AFTER_S),
      cameras: CAMERAS,
      cameraId: 'line',
      surface: 'metal',
      defectRate: 0.2,
      mqtt: broker.url,
      qos: 1,
      distinctFrames: 8,
      recordFrames: true,
      timeoutMs: 5_000,
    });
    await outage;
    polling = false;
    await poller;

    const frames = report.frames as Record<string, FrameRecord[]>;
    const recovery: Record<string, number> = {};
    let lostAround = 0;
    let lostOutside = 0;
    let resumedAt = restartAt;
    for (const [camera, records] of Object.entries(frames)) {
      const firstAfter = records
        .filter((record) => record.answer !== undefined && record.answer.receivedAt >= restartAt)
        .reduce((first, record) => Math.min(first, record.answer!.receivedAt), Number.POSITIVE_INFINITY);
      recovery[camera] = (firstAfter - restartAt) / 1000;
      resumedAt = Math.max(resumedAt, firstAfter);
    }
    for (const records of Object.values(frames)) {
      for (const record of records) {
        if (record.answer !== undefined) continue;
        if (record.sentAt >= killAt - IN_FLIGHT_MS && record.sentAt <= resumedAt) lostAround += 1;
        else lostOutside += 1;
      }
    }
    const notSentOffline = report.cameras.reduce((sum, camera) => sum + camera.not_sent.offline, 0);
    const worst = Math.max(...Object.values(recovery));
    const healthBad = health.filter((status) => status !== 200).length;

    recordFigures('4 mqtt broker restart', [
      { name: 'seconds until results flow again (worst camera)', value: `${round2(worst)} s (${Object.entries(recovery).map(([camera, seconds]) => `${camera} ${round2(seconds)}`).join(', ')})`, target: 'reconnect on their own', met: Number.isFinite(worst) },
      { name: 'frames lost outside the outage', value: String(lostOutside), target: '0', met: lostOutside === 0 },
      { name: 'frames lost around the outage', value: `${lostAround} sent + ${notSentOffline} not sent (offline), of ${report.total.sent + notSentOffline}; broker down ${DOWN_S} s`, target: 'only while down', met: true },
      { name: 'node readiness during the run', value: `${health.length - healthBad}/${health.length} polls 200`, target: '200 throughout', met: healthBad === 0 },
    ]);

    expect(Object.keys(recovery)).toHaveLength(CAMERAS);
    for (const seconds of Object.values(recovery)) expect(seconds).toBeLessThan(AFTER_S - 1);
    expect(lostOutside).toBe(0);
    expect(healthBad).toBe(0);
    expect(report.total.results).toBeGreaterThan(FPS * CAMERAS * (BEFORE_S + AFTER_S) * 0.5);
    expect(report.total.duplicates).toBe(0);
  });
});
