/**
 * The camera hub's bounds over the real inspection task (trained defect model, worker threads):
 * at most streams.maxCameras cameras, idle MQTT cameras forgotten (their metrics series with them),
 * a WebSocket camera replaced by a newer connection, close() idempotent.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import type { InspectionTasks, ModelRepository } from '../../services/core/contracts.ts';
import type { StreamCameraClosedEvent } from '../../services/core/events.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { CameraHub } from '../../services/streams/camera-hub.ts';
import type { CameraMessage } from '../../services/streams/messages.ts';
import { codeOfSync } from '../support/code-of.ts';
import { inspectFixtures } from '../tasks/inspect-fixtures.ts';

describe('CameraHub', () => {
  let repository: ModelRepository;
  let inspection: InspectionTasks;
  const frame = inspectFixtures().find((fixture) => fixture.surface === 'textile' && fixture.defect === null)!;

  beforeAll(async () => {
    const config = loadConfig({ runtime: { workers: 1, intraOpThreads: 1 }, models: { load: ['defect'] } });
    repository = await createRepository({ config, runtime: createRuntime(config), load: ['defect'] });
    inspection = createInspectionTasks({ repository, config });
  });
  afterAll(async () => {
    await repository?.close();
  });

  it('BAD CALL - past maxCameras a new camera is refused with EDGE_ERR_STREAM_TOO_MANY_CAMERAS; a released place is free again', async () => {
    const hub = new CameraHub({ inspection, maxCameras: 2, idleTimeoutMs: 60_000, frameTimeoutMs: 5000 });
    const a = hub.open('a', 'websocket', () => undefined);
    hub.open('b', 'mqtt', () => undefined);
    expect(hub.open('b', 'mqtt', () => undefined)).toBe(hub.get('b', 'mqtt'));
    expect(codeOfSync(() => hub.open('c', 'mqtt', () => undefined))).toBe('EDGE_ERR_STREAM_TOO_MANY_CAMERAS');
    expect(codeOfSync(() => hub.open('../etc', 'mqtt', () => undefined))).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
    await hub.release(a);
    expect(hub.open('c', 'mqtt', () => undefined).cameraId).toBe('c');
    await hub.close();
    await hub.close();
    expect(codeOfSync(() => hub.open('d', 'mqtt', () => undefined))).toBe('EDGE_ERR_SHUTTING_DOWN');
  });

  it('inspects through the real task, and forgets an idle MQTT camera (its series go with it)', async () => {
    const closed: StreamCameraClosedEvent[] = [];
    const onClosed = (message: unknown) => closed.push(message as StreamCameraClosedEvent);
    diagnostics.subscribe('mec:streams:camera-closed', onClosed);
    const hub = new CameraHub({ inspection, maxCameras: 4, idleTimeoutMs: 1000, frameTimeoutMs: 5000 });
    try {
      const answers: CameraMessage[] = [];
      const stream = hub.open('idle-cam', 'mqtt', (message) => answers.push(message));
      stream.offer({ frameId: '1', capturedAt: Date.now(), surface: 'textile', bytes: frame.bytes });
      await expect.poll(() => answers.length, { timeout: 10_000 }).toBe(1);
      expect(answers[0]).toMatchObject({ camera_id: 'idle-cam', frame_id: '1', surface: 'textile', defective: false });
      await expect.poll(() => hub.get('idle-cam', 'mqtt'), { timeout: 5000 }).toBeUndefined();
      expect(closed).toContainEqual({ cameraId: 'idle-cam', transport: 'mqtt' });
    } finally {
      diagnostics.unsubscribe('mec:streams:camera-closed', onClosed);
      await hub.close();
    }
  });
});
