/**
 * Teaching a camera its threshold, end to end: a real node (startNode: the all-surface defect model
 * in worker threads, HTTP on a socket, its MQTT bridge on the real Mosquitto under a topic prefix of
 * this run's own), real fetch, ws and mqtt.js clients, and real frames: defect-free gravel frames
 * rendered by the camera simulator from the gravel texture, plus the held-out fixtures.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { calibratedThreshold, type CalibrationStatus } from '../../services/streams/calibration.ts';
import { loadTexture, planFrame, renderFrame } from '../../services/client/camera/frames.ts';
import { mulberry32 } from '../../services/client/camera/random.ts';
import { inspectFixtures } from '../tasks/inspect-fixtures.ts';

const BROKER = process.env.MEC_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const PREFIX = `mec-test-${randomBytes(4).toString('hex')}/cameras`;
const TEACH_FRAMES = 12;

interface Answer {
  camera_id: string;
  frame_id: string | null;
  defective?: boolean;
  score?: number;
  threshold?: number;
  calibrated?: boolean;
  calibration?: { state: string; frames: number; needed: number };
  error?: { code: string };
}

/** The answer of GET .../calibration, any state: each test checks the fields of the state it expects. */
type Status = Omit<Partial<Extract<CalibrationStatus, { state: 'calibrated' | 'stale' }>>, 'state'> & Omit<Partial<Extract<CalibrationStatus, { state: 'collecting' }>>, 'state'> & { state: string };

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Defect-free gravel frames as a camera would send them: windows of the texture, turned, lit, noisy, JPEG. */
async function goodGravelFrames(count: number, seed: number): Promise<Buffer[]> {
  const texture = await loadTexture('gravel', 256);
  const random = mulberry32(seed);
  return Promise.all(Array.from({ length: count }, () => renderFrame(texture, planFrame(random, texture, { size: 256, defectRate: 0 }), { format: 'jpeg' })));
}

/** A WebSocket camera that sends one frame at a time and waits for its answer (so the newest-wins slot drops none). */
async function wsCamera(url: string) {
  const socket = new WebSocket(url);
  const answers: Answer[] = [];
  socket.on('message', (data) => answers.push(JSON.parse(data.toString()) as Answer));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    answers,
    async send(bytes: Buffer): Promise<Answer> {
      const before = answers.length;
      socket.send(bytes);
      await until(() => answers.length > before, 15_000, 'an answer');
      return answers[before]!;
    },
    close: () => socket.close(),
  };
}

describe('camera threshold calibration (teach-in) over HTTP, WebSocket and MQTT (real Mosquitto, real model)', () => {
  let node: RunningNode;
  let frames: Buffer[];
  let cardThreshold: number;
  const hole = inspectFixtures().find((fixture) => fixture.surface === 'gravel' && fixture.defect !== null)!;

  const api = (cameraId: string) => `${node.url}/v1/streams/${cameraId}/calibration`;
  const put = (cameraId: string, body: unknown) =>
    fetch(api(cameraId), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const status = async (cameraId: string): Promise<Status> => {
    const response = await fetch(api(cameraId));
    expect(response.status).toBe(200);
    return (await response.json()) as Status;
  };
  const errorCode = async (response: Response): Promise<string> => ((await response.json()) as { error: { code: string } }).error.code;

  beforeAll(async () => {
    [node, frames] = await Promise.all([
      startNode(loadConfig({
        server: { port: 0 },
        runtime: { workers: 1, intraOpThreads: 1 },
        models: { load: ['defect'] },
        streams: { mqtt: { url: BROKER, topicPrefix: PREFIX }, idleTimeoutMs: 1000 },
        log: { level: 'warn' },
      })),
      goodGravelFrames(TEACH_FRAMES + 2, 20261207),
    ]);
    await node.streams.mqtt!.waitConnected(5000);
    const surfaces = (await (await fetch(`${node.url}/v1/inspect/surfaces`)).json()) as { surfaces: { name: string; model: string; threshold: number }[] };
    const gravel = surfaces.surfaces.find((surface) => surface.name === 'gravel')!;
    expect(gravel.model).toBe('defect');
    cardThreshold = gravel.threshold;
  });
  afterAll(async () => {
    await node?.close();
  });

  it('WebSocket: N good frames set a threshold above every one of their scores; later frames are judged by it; DELETE brings the card\'s back; a model change makes it stale', async () => {
    const started = await put('ws-teach', { surface: 'gravel', frames: TEACH_FRAMES });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({ camera_id: 'ws-teach', state: 'collecting', surface: 'gravel', frames: 0, needed: TEACH_FRAMES, false_alarm_rate: 0.01 });

    const camera = await wsCamera(`${node.url.replace('http', 'ws')}/v1/streams/ws-teach?surface=gravel`);
    const teachIn: Answer[] = [];
    for (const bytes of frames.slice(0, TEACH_FRAMES)) teachIn.push(await camera.send(bytes));
    expect(teachIn.map((answer) => answer.calibration)).toEqual(teachIn.map((_, index) => ({ state: 'collecting', frames: index + 1, needed: TEACH_FRAMES })));
    // Teach-in frames are judged by the card while collecting (the answer shows how it does on this camera).
    for (const answer of teachIn) expect(answer).toMatchObject({ threshold: cardThreshold, defective: answer.score! >= cardThreshold });
    expect(teachIn.some((answer) => 'calibrated' in answer)).toBe(false);

    const calibrated = await status('ws-teach');
    const scores = teachIn.map((answer) => answer.score!);
    expect(calibrated).toMatchObject({ state: 'calibrated', surface: 'gravel', model: 'defect', version: '1', model_threshold: cardThreshold, frames: TEACH_FRAMES, max_score: Math.max(...scores) });
    for (const score of scores) expect(calibrated.threshold).toBeGreaterThan(score);
    expect(calibrated.threshold).toBe(calibratedThreshold(scores, 0.01));
    const listed = (await (await fetch(`${node.url}/v1/streams`)).json()) as { cameras: { camera_id: string; defects: number; calibration: Status | null }[] };
    expect(listed.cameras.find((entry) => entry.camera_id === 'ws-teach')).toMatchObject({ defects: 0, calibration: { state: 'calibrated', threshold: calibrated.threshold } });

    // From now on the camera's threshold judges its frames: an unseen good frame and one with a hole.
    const good = await camera.send(frames[TEACH_FRAMES]!);
    const bad = await camera.send(hole.bytes);
    for (const answer of [good, bad]) {
      expect(answer).toMatchObject({ threshold: calibrated.threshold, calibrated: true, defective: answer.score! >= calibrated.threshold! });
      expect(answer).not.toHaveProperty('calibration');
    }

    // Another model taking over the surface (loaded through the admin API): the calibration is stale and not applied.
    expect((await fetch(`${node.url}/v2/repository/models/defect-gravel/load`, { method: 'POST' })).status).toBe(200);
    try {
      expect(await status('ws-teach')).toMatchObject({ state: 'stale', model: 'defect', version: '1', serving: { model: 'defect-gravel', version: '1' } });
      const specialist = ((await (await fetch(`${node.url}/v1/inspect/surfaces`)).json()) as { surfaces: { name: string; threshold: number }[] }).surfaces.find((surface) => surface.name === 'gravel')!;
      const judgedByNewCard = await camera.send(frames[TEACH_FRAMES + 1]!);
      expect(judgedByNewCard).toMatchObject({ threshold: specialist.threshold });
      expect(judgedByNewCard).not.toHaveProperty('calibrated');
    } finally {
      expect((await fetch(`${node.url}/v2/repository/models/defect-gravel/unload`, { method: 'POST' })).status).toBe(200);
    }
    // The version it was measured with serves again: it applies again.
    expect(await status('ws-teach')).toMatchObject({ state: 'calibrated' });
    expect(await camera.send(frames[0]!)).toMatchObject({ threshold: calibrated.threshold, calibrated: true });

    const deleted = await fetch(api('ws-teach'), { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    const after = await camera.send(frames[TEACH_FRAMES]!);
    expect(after).toMatchObject({ threshold: cardThreshold, score: good.score });
    expect(after).not.toHaveProperty('calibrated');
    const gone = await fetch(api('ws-teach'));
    expect(gone.status).toBe(404);
    expect(await errorCode(gone)).toBe('EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND');
    camera.close();
  });

  it('MQTT: teach-in frames are answered on results but never published to alerts, even a defective one; the calibration outlives the idle camera', async () => {
    const camera: MqttClient = mqtt.connect(BROKER, { protocolVersion: 5, reconnectPeriod: 200, connectTimeout: 3000 });
    await new Promise<void>((resolve, reject) => camera.once('connect', () => resolve()).once('error', reject));
    const base = `${PREFIX}/line-teach`;
    const results: Answer[] = [];
    const alerts: Answer[] = [];
    camera.on('message', (topic, payload) => {
      if (topic === `${base}/results`) results.push(JSON.parse(payload.toString()) as Answer);
      if (topic === `${base}/alerts`) alerts.push(JSON.parse(payload.toString()) as Answer);
    });
    await camera.subscribeAsync([`${base}/results`, `${base}/alerts`], { qos: 1 });
    const send = async (frameId: string, bytes: Buffer): Promise<Answer> => {
      const before = results.length;
      await camera.publishAsync(`${base}/frames`, bytes, { qos: 1, properties: { userProperties: { 'frame-id': frameId, surface: 'gravel' } } });
      await until(() => results.length > before, 15_000, `the answer to ${frameId}`);
      return results[before]!;
    };

    expect((await put('line-teach', { surface: 'gravel', frames: 10 })).status).toBe(202);
    // The operator declared the scene defect-free, yet one frame shows a hole the card's threshold flags.
    const teachHole = await send('teach-hole', hole.bytes);
    expect(teachHole).toMatchObject({ defective: true, calibration: { state: 'collecting', frames: 1, needed: 10 } });
    for (let index = 0; index < 9; index += 1) await send(`teach-${index}`, frames[index]!);
    expect((await status('line-teach')).state).toBe('calibrated');

    // The calibration is kept while the idle camera's stream is forgotten (streams.idleTimeoutMs 1 s).
    await until(() => node.streams.hub.get('line-teach', 'mqtt') === undefined, 5000, 'the idle camera to be forgotten');
    expect(await status('line-teach')).toMatchObject({ state: 'calibrated', model: 'defect' });

    // Back on the card's threshold, the same hole is an alert: the topic works, teach-in frames were held back.
    expect((await fetch(api('line-teach'), { method: 'DELETE' })).status).toBe(204);
    expect(await send('after', hole.bytes)).toMatchObject({ defective: true });
    expect(results.find((answer) => answer.frame_id === 'after')).not.toHaveProperty('calibration');
    await until(() => alerts.length > 0, 5000, 'the alert');
    expect(alerts.map((alert) => alert.frame_id)).toEqual(['after']);
    await camera.endAsync();
  });

  it('BAD CALL - invalid bodies give 400 EDGE_ERR_STREAM_CALIBRATION_INVALID, an unknown surface 404, a bad camera id 400, a camera without calibration 404', async () => {
    for (const body of [
      {},
      { frames: 50 },
      { surface: '' },
      { surface: 7 },
      { surface: 'gravel', frames: 9 },
      { surface: 'gravel', frames: 1001 },
      { surface: 'gravel', frames: 12.5 },
      { surface: 'gravel', frames: '50' },
      { surface: 'gravel', false_alarm_rate: 0 },
      { surface: 'gravel', false_alarm_rate: -0.01 },
      { surface: 'gravel', false_alarm_rate: 0.6 },
      { surface: 'gravel', false_alarm_rate: '1%' },
      { surface: 'gravel', falseAlarmRate: 0.01 },
      ['gravel'],
      null,
    ]) {
      const response = await put('bad-body', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(response), JSON.stringify(body)).toBe('EDGE_ERR_STREAM_CALIBRATION_INVALID');
    }
    const noBody = await fetch(api('bad-body'), { method: 'PUT' });
    expect(noBody.status).toBe(400);
    expect(await errorCode(noBody)).toBe('EDGE_ERR_STREAM_CALIBRATION_INVALID');

    const marble = await put('bad-body', { surface: 'marble' });
    expect(marble.status).toBe(404);
    expect(await errorCode(marble)).toBe('EDGE_ERR_SURFACE_NOT_FOUND');
    // Nothing was started by any of these.
    const none = await fetch(api('bad-body'));
    expect(none.status).toBe(404);
    expect(await errorCode(none)).toBe('EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND');
    const deleteNone = await fetch(api('bad-body'), { method: 'DELETE' });
    expect(deleteNone.status).toBe(404);
    expect(await errorCode(deleteNone)).toBe('EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND');

    for (const [method, id] of [['PUT', 'a%20b'], ['GET', 'x'.repeat(65)], ['DELETE', 'a+b']] as const) {
      const response = method === 'PUT' ? await put(id, { surface: 'gravel' }) : await fetch(api(id), { method });
      expect(response.status, `${method} ${id}`).toBe(400);
      expect(await errorCode(response), `${method} ${id}`).toBe('EDGE_ERR_STREAM_CAMERA_ID_INVALID');
    }

    // The routes and the PUT body are in the OpenAPI document (the WebSocket route stays hidden).
    const spec = (await (await fetch(`${node.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required: string[] } }> } }>> };
    const documented = spec.paths['/v1/streams/{cameraId}/calibration']!;
    expect(Object.keys(documented).sort()).toEqual(['delete', 'get', 'put']);
    expect(documented.put!.requestBody!.content['application/json']!.schema.required).toEqual(['surface']);

    // The defaults, and the camera WebSocket path next to these routes still upgrades.
    const defaults = await put('defaults', { surface: 'gravel' });
    expect(defaults.status).toBe(202);
    expect(await defaults.json()).toMatchObject({ state: 'collecting', needed: 50, false_alarm_rate: 0.01 });
    const camera = await wsCamera(`${node.url.replace('http', 'ws')}/v1/streams/calibration?surface=gravel`);
    expect(await camera.send(frames[0]!)).toMatchObject({ camera_id: 'calibration', threshold: cardThreshold });
    camera.close();
  });
});
