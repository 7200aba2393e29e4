/**
 * The camera simulator's loop and bookkeeping, end to end over real transports: real Mosquitto
 * (127.0.0.1:1883, and a private instance for the restart test) and a real WebSocket server. The
 * node is a test double that decodes each frame and answers by a rule on the frame id, so every
 * count in the report has an exact expected value.
 */
import { afterEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import mqtt from 'mqtt';
import path from 'node:path';
import os from 'node:os';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { simulateCameras, type SimulationReport } from '../../services/client/camera/simulate.ts';
import type { FrameRecord } from '../../services/client/camera/ledger.ts';
import { codeOf } from '../support/code-of.ts';

const TEXTURE_FILE = path.resolve(import.meta.dirname, '..', 'fixtures', 'images', 'chelsea.png');
const SIZE = 128;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The rule of the node double: which frames it supersedes, fails, and calls defective. */
const rule = {
  superseded: (n: number) => n % 5 === 3,
  fails: (n: number) => n % 7 === 6,
  // It calls even frames defective, with one region covering the whole frame.
  defective: (n: number) => n % 2 === 0,
};

/** One camera's side of the node double: decodes the frame and answers (or not) by the rule. */
function nodeDouble() {
  const pendingDropped = new Map<string, number>();
  return async (cameraId: string, frameId: string, capturedAt: number, surface: string, bytes: Buffer): Promise<string | undefined> => {
    const n = Number(frameId);
    if (rule.superseded(n)) {
      pendingDropped.set(cameraId, (pendingDropped.get(cameraId) ?? 0) + 1);
      return undefined;
    }
    const meta = await sharp(bytes).metadata();
    if (meta.format !== 'jpeg' || meta.width !== SIZE || meta.height !== SIZE || rule.fails(n)) {
      return JSON.stringify({ camera_id: cameraId, frame_id: frameId, captured_at: capturedAt, error: { code: 'EDGE_ERR_INFERENCE_FAILED', message: 'the double fails this one' } });
    }
    const defective = rule.defective(n);
    const dropped = pendingDropped.get(cameraId) ?? 0;
    pendingDropped.set(cameraId, 0);
    return JSON.stringify({
      camera_id: cameraId, frame_id: frameId, captured_at: capturedAt, surface,
      defective, score: defective ? 0.9 : 0.1, threshold: 0.5,
      regions: defective ? [{ box: { x: 0, y: 0, width: SIZE, height: SIZE }, score: 0.9 }] : [],
      timings: { decode_ms: 1, queue_ms: 0, infer_ms: 5, total_ms: 6 },
      frame_to_result_ms: Math.max(0, Date.now() - capturedAt), dropped,
    });
  };
}

/** What the report must say for frames 0..count-1 of one camera under the rule. */
function expected(frames: FrameRecord[]) {
  let serverDropped = 0;
  let pending = 0;
  const out = { results: 0, errors: 0, unanswered: 0, detected: 0, defectiveAnswered: 0, falseAlarms: 0, goodAnswered: 0 };
  for (const frame of frames) {
    const n = Number(frame.frameId);
    if (rule.superseded(n)) { out.unanswered++; pending++; continue; }
    if (rule.fails(n)) { out.errors++; continue; }
    out.results++;
    serverDropped += pending;
    pending = 0;
    if (frame.defects.length > 0) { out.defectiveAnswered++; if (rule.defective(n)) out.detected++; }
    else { out.goodAnswered++; if (rule.defective(n)) out.falseAlarms++; }
  }
  return { ...out, serverDropped };
}

function checkCamera(report: SimulationReport, cameraId: string, count: number) {
  const frames = report.frames![cameraId]!;
  const camera = report.cameras.find((entry) => entry.camera_id === cameraId)!;
  const want = expected(frames);
  expect(frames.map((frame) => frame.frameId)).toEqual(Array.from({ length: count }, (_, i) => String(i)));
  expect({
    sent: camera.sent, results: camera.results, unanswered: camera.unanswered, server_dropped: camera.server_dropped,
    errors: camera.errors, malformed: camera.malformed, unmatched: camera.unmatched, duplicates: camera.duplicates,
    detected: camera.check.detected, localised: camera.check.localised, defective_answered: camera.check.defective_answered,
    good_answered: camera.check.good_answered, false_alarms: camera.check.false_alarms, latencies: camera.latency_ms.count,
  }).toEqual({
    sent: count, results: want.results, unanswered: want.unanswered, server_dropped: want.serverDropped,
    errors: want.errors > 0 ? { EDGE_ERR_INFERENCE_FAILED: want.errors } : {}, malformed: 0, unmatched: 0, duplicates: 0,
    // The double's region covers the whole frame: every detected frame is localised too.
    detected: want.detected, localised: want.detected, defective_answered: want.defectiveAnswered,
    good_answered: want.goodAnswered, false_alarms: want.falseAlarms, latencies: want.results,
  });
  expect(camera.latency_ms.p50).toBeGreaterThan(0);
  expect(camera.latency_ms.p99).toBeGreaterThanOrEqual(camera.latency_ms.p50);
  return { camera, want };
}

/** A node double on MQTT: subscribes to the frames of cameras whose id starts with `prefix`. */
async function mqttNodeDouble(url: string, prefix: string) {
  const answer = nodeDouble();
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100 });
  const subscribe = () => client.subscribe('mec/cameras/+/frames', { qos: 0 });
  client.on('connect', subscribe);
  await client.subscribeAsync('mec/cameras/+/frames', { qos: 0 });
  // Answers leave in frame order, as the node answers one camera's frames in order.
  let chain = Promise.resolve();
  client.on('message', (topic, payload, packet) => {
    const cameraId = topic.split('/')[2]!;
    if (!cameraId.startsWith(prefix)) return;
    const props = (packet.properties?.userProperties ?? {}) as Record<string, string>;
    chain = chain.then(async () => {
      const text = await answer(cameraId, props['frame-id']!, Number(props['captured-at']), props.surface!, payload);
      if (text === undefined) return;
      client.publish(`mec/cameras/${cameraId}/results`, text);
      if (JSON.parse(text).defective === true) client.publish(`mec/cameras/${cameraId}/alerts`, text);
    });
  });
  cleanups.push(() => client.endAsync(true));
  return client;
}

const base = { surface: 'gravel', textureFile: TEXTURE_FILE, size: SIZE, seed: 11, timeoutMs: 3000, recordFrames: true } as const;

describe('simulateCameras over MQTT (real Mosquitto on 127.0.0.1:1883)', () => {
  it('sends paced, real frames to two cameras and counts every answer exactly', async () => {
    const prefix = `t-${randomBytes(3).toString('hex')}`;
    await mqttNodeDouble('mqtt://127.0.0.1:1883', prefix);
    const count = 45;
    const started = performance.now();
    const report = await simulateCameras({ ...base, fps: 30, defectRate: 0.4, count, cameraId: prefix, cameras: 2 });
    const seconds = (performance.now() - started) / 1000;
    for (const cameraId of [`${prefix}-1`, `${prefix}-2`]) {
      const { camera } = checkCamera(report, cameraId, count);
      // Alerts repeat the defective results, each one.
      expect(camera.alerts_missing).toBe(0);
      expect(camera.alerts).toBe(report.frames![cameraId]!.filter((frame) => frame.answer?.kind === 'result' && frame.answer.defective).length);
    }
    expect(report.total.sent).toBe(2 * count);
    // 45 frames at 30 fps take 1.5 s on the clock: absolute scheduling, no drift either way.
    const firstSends = report.frames![`${prefix}-1`]!.map((frame) => frame.sentAt);
    expect((firstSends.at(-1)! - firstSends[0]!) / 1000).toBeCloseTo((count - 1) / 30, 1);
    // Pacing on a shared 2-core machine: a loaded event loop delays a send by tens of ms now and
    // then; what must not happen is lag that accumulates (the span above) or whole seconds of it.
    expect(report.total.send_lag_ms.p99).toBeLessThan(150);
    expect(seconds).toBeLessThan(10);
    // Both cameras drew defects, from the same seed but not the same frames.
    const defects = (id: string) => JSON.stringify(report.frames![id]!.map((frame) => frame.defects));
    expect(defects(`${prefix}-1`)).not.toBe(defects(`${prefix}-2`));
  });

  it('stops on the abort signal and reports what it sent until then', async () => {
    const prefix = `t-${randomBytes(3).toString('hex')}`;
    await mqttNodeDouble('mqtt://127.0.0.1:1883', prefix);
    const stop = new AbortController();
    const progress: number[] = [];
    // Stopped after three running totals (about 0.6 s of sending), however long rendering and connecting took.
    const report = await simulateCameras({
      ...base, fps: 20, defectRate: 0.5, cameraId: prefix, signal: stop.signal,
      progressEveryMs: 200, onProgress: (totals) => {
        progress.push(totals.sent);
        if (progress.length === 3) stop.abort();
      },
    });
    // Running totals came while sending, growing.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)!).toBeGreaterThan(progress[0]!);
    // About 0.6 s at 20 fps: some 12 frames, and it stopped (no count was given, it would run forever).
    expect(report.total.sent).toBeGreaterThan(5);
    expect(report.total.sent).toBeLessThan(30);
    checkCamera(report, prefix, report.total.sent);
  });

  it('BAD CALL - no broker at the URL rejects within the connect timeout', async () => {
    const port = await freePort();
    const started = performance.now();
    const outcome = await simulateCameras({ ...base, fps: 10, defectRate: 0, count: 3, mqtt: `mqtt://127.0.0.1:${port}`, connectTimeoutMs: 800 }).then(
      () => 'RESOLVED',
      (error: Error) => error.message,
    );
    expect(outcome).toMatch(/no MQTT connection/);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('BAD CALL - invalid options are refused with EDGE_ERR_CONFIG_INVALID', async () => {
    for (const bad of [{ fps: 0 }, { defectRate: 1.5 }, { cameraId: 'bad id' }, { mqtt: 'http://x' }, { ws: 'ws://a', mqtt: 'mqtt://b' }, { size: 8 }, { surface: '../x' }]) {
      expect(await codeOf(simulateCameras({ ...base, fps: 10, defectRate: 0, count: 1, ...bad }))).toBe('EDGE_ERR_CONFIG_INVALID');
    }
  });
});

describe('simulateCameras over WebSocket (a real ws server as the node double)', () => {
  /** `dropConnectionAfter`: the double cuts the first connection (1011) after answering that many frames. */
  async function wsNodeDouble(surfaces: string[], dropConnectionAfter?: number) {
    let answeredOnFirst = 0;
    let connections = 0;
    const answer = nodeDouble();
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    server.on('connection', (socket, request) => {
      const url = new URL(request.url!, 'http://localhost');
      const cameraId = decodeURIComponent(url.pathname.split('/').at(-1)!);
      const surface = url.searchParams.get('surface') ?? '';
      if (!url.pathname.startsWith('/v1/streams/') || !surfaces.includes(surface)) {
        socket.send(JSON.stringify({ camera_id: cameraId, frame_id: null, captured_at: null, error: { code: 'EDGE_ERR_QUERY_INVALID', message: `unknown surface ${surface}` } }));
        socket.close(1008, 'unknown surface');
        return;
      }
      const connection = ++connections;
      let header: { frame_id: string; captured_at: number } | undefined;
      let chain = Promise.resolve();
      socket.on('message', (data, isBinary) => {
        if (!isBinary) { header = JSON.parse(String(data)); return; }
        const frame = header!;
        header = undefined;
        chain = chain.then(async () => {
          const text = await answer(cameraId, frame.frame_id, frame.captured_at, surface, data as Buffer);
          if (text !== undefined) socket.send(text);
          if (connection === 1 && dropConnectionAfter !== undefined && ++answeredOnFirst === dropConnectionAfter) socket.close(1011, 'the double restarts');
        });
      });
    });
    cleanups.push(() => new Promise<void>((resolve) => { for (const client of server.clients) client.terminate(); server.close(() => resolve()); }));
    return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('sends a header and a binary frame per frame and counts every answer exactly', async () => {
    const url = await wsNodeDouble(['gravel']);
    const report = await simulateCameras({ ...base, fps: 40, defectRate: 0.5, count: 60, cameraId: 'ws-cam', ws: url });
    expect(report.transport).toBe('ws');
    checkCamera(report, 'ws-cam', 60);
  });

  it('reopens a stream the node closed (1011) and gets answers on the new connection', async () => {
    const url = await wsNodeDouble(['gravel'], 10);
    const report = await simulateCameras({ ...base, fps: 20, defectRate: 0.3, count: 50, cameraId: 'ws-again', ws: url });
    const camera = report.cameras[0]!;
    expect(camera.disconnects).toBe(1);
    expect(camera.sent + camera.not_sent.offline).toBe(50);
    const frames = report.frames!['ws-again']!;
    expect(Math.max(...frames.filter((frame) => frame.answer).map((frame) => Number(frame.frameId)))).toBe(49);
    expect(camera.malformed + camera.unmatched + camera.duplicates).toBe(0);
  });

  it('BAD CALL - a surface the node refuses (close 1008) rejects with the node\'s reason', async () => {
    const url = await wsNodeDouble(['metal']);
    const outcome = await simulateCameras({ ...base, fps: 10, defectRate: 0, count: 3, ws: url }).then(() => 'RESOLVED', (error: Error) => error.message);
    expect(outcome).toMatch(/1008/);
    expect(outcome).toMatch(/EDGE_ERR_QUERY_INVALID/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A private Mosquitto on its own port, so that restarting it disturbs nobody else. */
async function privateBroker(port: number): Promise<{ stop: () => Promise<void> }> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'mec-mosquitto-'));
  const config = path.join(folder, 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child: ChildProcess = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

describe('simulateCameras across a broker restart (a private Mosquitto)', () => {
  it('keeps running, counts the outage as offline frames and gets answers again after the restart', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    let broker = await privateBroker(port);
    cleanups.push(() => broker.stop());
    await mqttNodeDouble(url, 'restart-cam');
    const restart = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await broker.stop();
      await new Promise((resolve) => setTimeout(resolve, 700));
      broker = await privateBroker(port);
    })();
    const report = await simulateCameras({ ...base, fps: 20, defectRate: 0.3, count: 80, cameraId: 'restart-cam', mqtt: url });
    await restart;
    const camera = report.cameras[0]!;
    expect(camera.disconnects).toBeGreaterThanOrEqual(1);
    expect(camera.not_sent.offline).toBeGreaterThan(0);
    expect(camera.sent + camera.not_sent.offline).toBe(80);
    // Frames sent after the restart were answered: the results subscription came back.
    const frames = report.frames!['restart-cam']!;
    const lastAnswered = Math.max(...frames.filter((frame) => frame.answer).map((frame) => Number(frame.frameId)));
    expect(lastAnswered).toBeGreaterThan(60);
    expect(camera.malformed + camera.unmatched + camera.duplicates).toBe(0);
  });
});
