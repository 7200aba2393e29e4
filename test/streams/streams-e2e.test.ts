/**
 * Camera streams end to end: a real node (startNode: trained defect model, worker threads, HTTP on a
 * socket) with its MQTT bridge on the real Mosquitto (127.0.0.1:1883, a topic prefix of this test
 * run's own) and its WebSocket route, driven by real mqtt.js and ws clients.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { boxesOverlap } from '../../services/core/box.ts';
import { inspectFixtures } from '../tasks/inspect-fixtures.ts';
import { privateBroker } from '../support/mosquitto.ts';

const BROKER = process.env.MEC_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const PREFIX = `mec-test-${randomBytes(4).toString('hex')}/cameras`;

interface Answer {
  camera_id: string;
  frame_id: string | null;
  defective?: boolean;
  regions?: { box: { x: number; y: number; width: number; height: number } }[];
  dropped?: number;
  frame_to_result_ms?: number;
  error?: { code: string };
}

async function connectCamera(url: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 3000 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (error) => reject(new Error(`cannot reach Mosquitto at ${url} (start it: mosquitto -d): ${error.message}`)));
  });
  return client;
}

/** Collects JSON answers per topic suffix (results, alerts). */
function collect(client: MqttClient, cameraPrefix: string): { results: Answer[]; alerts: Answer[] } {
  const answers = { results: [] as Answer[], alerts: [] as Answer[] };
  client.on('message', (topic, payload) => {
    if (topic === `${cameraPrefix}/results`) answers.results.push(JSON.parse(payload.toString()));
    if (topic === `${cameraPrefix}/alerts`) answers.alerts.push(JSON.parse(payload.toString()));
  });
  return answers;
}

async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function nodeConfig(url: string) {
  return loadConfig({
    server: { port: 0 },
    runtime: { workers: 1, intraOpThreads: 1 },
    models: { load: ['defect'] },
    streams: { mqtt: { url, topicPrefix: PREFIX }, maxFrameBytes: 512 * 1024 },
    log: { level: 'warn' },
  });
}

describe('camera streams over MQTT and WebSocket (real Mosquitto, real model)', () => {
  let node: RunningNode;
  const fixtures = inspectFixtures();
  const good = fixtures.find((fixture) => fixture.surface === 'gravel' && fixture.defect === null)!;
  const bad = fixtures.find((fixture) => fixture.surface === 'gravel' && fixture.defect !== null)!;

  beforeAll(async () => {
    node = await startNode(nodeConfig(BROKER));
    await node.streams.mqtt!.waitConnected(5000);
  });
  afterAll(async () => {
    await node?.close();
  });

  it('MQTT: each frame is answered on results with its frame id; defective ones also on alerts; bad frames get codes and the stream goes on', async () => {
    const camera = await connectCamera(BROKER);
    const base = `${PREFIX}/line-1`;
    const answers = collect(camera, base);
    await camera.subscribeAsync([`${base}/results`, `${base}/alerts`], { qos: 1 });
    const send = (frameId: string, payload: Buffer, properties: Record<string, string>) =>
      camera.publishAsync(`${base}/frames`, payload, { qos: 1, properties: { userProperties: { 'frame-id': frameId, 'captured-at': String(Date.now()), ...properties } } });

    // One at a time, so the newest-wins slot drops none of them.
    const sequence: [string, Buffer, Record<string, string>][] = [
      ['good', good.bytes, { surface: 'gravel' }],
      ['bad', bad.bytes, { surface: 'gravel' }],
      ['corrupt', good.bytes.subarray(0, 400), { surface: 'gravel' }],
      ['no-surface', good.bytes, {}],
      ['marble', good.bytes, { surface: 'marble' }],
      ['bad-time', good.bytes, { surface: 'gravel', 'captured-at': 'yesterday' }],
      ['huge', Buffer.alloc(600 * 1024, 1), { surface: 'gravel' }],
      ['after', bad.bytes, { surface: 'gravel' }],
    ];
    for (const [index, [frameId, payload, properties]] of sequence.entries()) {
      await send(frameId, payload, properties);
      await until(() => answers.results.length === index + 1, 10_000, `answer to ${frameId}`);
    }
    const byId = Object.fromEntries(answers.results.map((answer) => [answer.frame_id, answer]));
    expect(byId.good).toMatchObject({ camera_id: 'line-1', defective: false, dropped: 0 });
    expect(byId.bad).toMatchObject({ defective: true });
    expect(byId.bad!.regions!.some((region: { box: { x: number; y: number; width: number; height: number } }) => bad.boxes.some((box) => boxesOverlap(region.box, box)))).toBe(true);
    expect(byId.bad!.frame_to_result_ms).toBeGreaterThan(0);
    expect(byId.corrupt!.error!.code).toBe('EDGE_ERR_IMAGE_CORRUPT');
    expect(byId['no-surface']!.error!.code).toBe('EDGE_ERR_STREAM_METADATA_INVALID');
    expect(byId.marble!.error!.code).toBe('EDGE_ERR_SURFACE_NOT_FOUND');
    expect(byId['bad-time']!.error!.code).toBe('EDGE_ERR_STREAM_METADATA_INVALID');
    expect(byId.huge!.error!.code).toBe('EDGE_ERR_STREAM_FRAME_TOO_LARGE');
    expect(byId.after).toMatchObject({ defective: true });
    await until(() => answers.alerts.length === 2, 5000, 'alerts');
    expect(answers.alerts.map((alert) => alert.frame_id)).toEqual(['bad', 'after']);

    // A topic level that is no valid camera id cannot be answered: counted and dropped.
    const before = node.streams.mqtt!.stats().unaddressable;
    await camera.publishAsync(`${PREFIX}/not a camera/frames`, good.bytes, { qos: 1, properties: { userProperties: { 'frame-id': 'x', surface: 'gravel' } } });
    await until(() => node.streams.mqtt!.stats().unaddressable === before + 1, 5000, 'the unaddressable frame to be counted');

    const stats = (await (await fetch(`${node.url}/v1/streams`)).json()) as { cameras: Record<string, unknown>[]; mqtt: { connected: boolean } };
    expect(stats.mqtt.connected).toBe(true);
    expect(stats.cameras.find((entry) => entry.camera_id === 'line-1')).toMatchObject({ transport: 'mqtt', frames_in: 8, inspected: 3, errors: 5, defects: 2, dropped: 0 });
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/mec_stream_frames_total\{camera="line-1",transport="mqtt",outcome="inspected"\} 3/);
    expect(metrics).toMatch(/mec_stream_errors_total\{camera="line-1",transport="mqtt",code="EDGE_ERR_IMAGE_CORRUPT"\} 1/);
    await camera.endAsync();
  });

  it('MQTT: a burst faster than the model keeps only the newest frame; every frame is answered or counted as dropped', async () => {
    const camera = await connectCamera(BROKER);
    const base = `${PREFIX}/line-burst`;
    const answers = collect(camera, base);
    await camera.subscribeAsync(`${base}/results`, { qos: 1 });
    const total = 40;
    for (let index = 0; index < total; index += 1) {
      camera.publish(`${base}/frames`, index % 2 ? bad.bytes : good.bytes, { qos: 0, properties: { userProperties: { 'frame-id': String(index), surface: 'gravel' } } });
    }
    await until(() => answers.results.some((answer) => answer.frame_id === String(total - 1)), 15_000, 'the last frame');
    const dropped = answers.results.reduce((sum, answer) => sum + (answer.dropped ?? 0), 0);
    expect(answers.results.length).toBeLessThan(total);
    expect(answers.results.length + dropped).toBe(total);
    // Answers come in frame order: the slot never reorders.
    const ids = answers.results.map((answer) => Number(answer.frame_id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    await camera.endAsync();
  });

  it('WebSocket: metadata + frame in, result out with the same frame id; a corrupt frame gets a code and the socket stays open', async () => {
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/ws-cam-1?surface=gravel`);
    const answers: Answer[] = [];
    socket.on('message', (data) => answers.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const capturedAt = Date.now();
    socket.send(JSON.stringify({ frame_id: 'f-1', captured_at: capturedAt }));
    socket.send(bad.bytes);
    await until(() => answers.length === 1);
    socket.send(good.bytes.subarray(0, 300));
    await until(() => answers.length === 2);
    socket.send('{"frame_id": 7}');
    await until(() => answers.length === 3);
    socket.send(good.bytes);
    await until(() => answers.length === 4);

    expect(answers[0]).toMatchObject({ camera_id: 'ws-cam-1', frame_id: 'f-1', captured_at: capturedAt, defective: true });
    expect(answers[1]).toMatchObject({ frame_id: '2', error: { code: 'EDGE_ERR_IMAGE_CORRUPT' } });
    expect(answers[2]).toMatchObject({ error: { code: 'EDGE_ERR_STREAM_METADATA_INVALID' } });
    expect(answers[3]).toMatchObject({ frame_id: '3', defective: false });
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('BAD CALL - WebSocket: a frame over streams.maxFrameBytes closes with 1009; an unknown surface gets an error then 1008', async () => {
    const big = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/ws-cam-2?surface=gravel`);
    await new Promise((resolve, reject) => big.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => big.once('close', (code) => resolve(code)));
    big.send(Buffer.alloc(600 * 1024, 7));
    expect(await closed).toBe(1009);

    const unknown = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/ws-cam-3?surface=marble`);
    const messages: Answer[] = [];
    unknown.on('message', (data) => messages.push(JSON.parse(data.toString())));
    const code = await new Promise<number>((resolve) => unknown.once('close', (closeCode) => resolve(closeCode)));
    expect(code).toBe(1008);
    expect(messages[0]!.error!.code).toBe('EDGE_ERR_SURFACE_NOT_FOUND');

    const badId = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/${'x'.repeat(65)}?surface=gravel`);
    const badIdMessages: Answer[] = [];
    badId.on('message', (data) => badIdMessages.push(JSON.parse(data.toString())));
    expect(await new Promise<number>((resolve) => badId.once('close', (closeCode) => resolve(closeCode)))).toBe(1008);
    expect(badIdMessages[0]!.error!.code).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
  });

  it('WebSocket: a second connection with the same camera id replaces the first, which is closed on its next frame', async () => {
    const url = `${node.url.replace('http', 'ws')}/v1/streams/ws-twice?surface=gravel`;
    const first = new WebSocket(url);
    await new Promise((resolve, reject) => first.once('open', resolve).once('error', reject));
    const second = new WebSocket(url);
    const answers: Answer[] = [];
    second.on('message', (data) => answers.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => second.once('open', resolve).once('error', reject));
    const firstClosed = new Promise<number>((resolve) => first.once('close', (code) => resolve(code)));
    first.send(good.bytes);
    expect(await firstClosed).toBe(1008);
    second.send(good.bytes);
    await until(() => answers.length === 1);
    expect(answers[0]).toMatchObject({ camera_id: 'ws-twice', defective: false });
    second.close();
  });

  it('WebSocket: a burst is answered newest-first-wins, the last frame always answered, dropped frames counted', async () => {
    const socket = new WebSocket(`${node.url.replace('http', 'ws')}/v1/streams/ws-burst?surface=gravel`);
    const answers: Answer[] = [];
    socket.on('message', (data) => answers.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const total = 30;
    for (let index = 0; index < total; index += 1) socket.send(index % 3 ? good.bytes : bad.bytes);
    await until(() => answers.some((answer) => answer.frame_id === String(total)), 15_000, 'the last frame');
    const dropped = answers.reduce((sum, answer) => sum + (answer.dropped ?? 0), 0);
    expect(answers.length + dropped).toBe(total);
    expect(dropped).toBeGreaterThan(0);
    const stats = (await (await fetch(`${node.url}/v1/streams`)).json()) as { cameras: Record<string, unknown>[] };
    expect(stats.cameras.find((entry) => entry.camera_id === 'ws-burst')).toMatchObject({ transport: 'websocket', frames_in: total, dropped });
    socket.close();
  });
});

describe('fault: the MQTT broker dies and comes back', () => {
  it('the node reconnects and resubscribes by itself; cameras are answered again; HTTP served meanwhile', async () => {
    const broker = await privateBroker();
    const node = await startNode(nodeConfig(broker.url));
    const fixture = inspectFixtures().find((entry) => entry.surface === 'brick' && entry.defect === null)!;
    try {
      await node.streams.mqtt!.waitConnected(5000);
      const camera = await connectCamera(broker.url);
      const base = `${PREFIX}/line-fault`;
      const answers = collect(camera, base);
      await camera.subscribeAsync(`${base}/results`, { qos: 1 });
      const send = (frameId: string) => camera.publish(`${base}/frames`, fixture.bytes, { qos: 1, properties: { userProperties: { 'frame-id': frameId, surface: 'brick' } } });
      send('before');
      await until(() => answers.results.length === 1, 10_000, 'the answer before the crash');

      await broker.kill();
      await until(() => !node.streams.mqtt!.stats().connected, 5000, 'the node to notice');
      const health = await fetch(`${node.url}/v2/health/live`);
      expect(health.status).toBe(200);

      await broker.start();
      await node.streams.mqtt!.waitConnected(10_000);
      // The camera's own client reconnects too (reconnectPeriod 200 ms) and resubscribes.
      await until(() => camera.connected, 10_000, 'the camera to reconnect');
      await new Promise((resolve) => setTimeout(resolve, 300));
      send('after');
      await until(() => answers.results.some((answer) => answer.frame_id === 'after'), 10_000, 'the answer after the restart');
      await camera.endAsync();
    } finally {
      await node.close();
      await broker.close();
    }
  });

  it('a node whose broker is gone still shuts down promptly', async () => {
    const broker = await privateBroker();
    const node = await startNode(nodeConfig(broker.url));
    try {
      await node.streams.mqtt!.waitConnected(5000);
      await broker.kill();
      const started = Date.now();
      await node.close();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await node.close();
      await broker.close();
    }
  });
});
