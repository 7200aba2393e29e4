/**
 * `simulateCameras`: K cameras that send rendered surface frames to a node at a fixed rate and
 * check what comes back. Sends follow an absolute schedule (frame i at start + i/fps, so the rate
 * never drifts), continue while answers lag (dropping superseded frames is the node's job), and stop
 * after `count` frames per camera or when `signal` fires; then outstanding answers get `timeoutMs`.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EdgeError } from '../../core/errors.ts';
import { DEFECT_TYPES, type DefectType } from './defects.ts';
import { FramePool } from './frame-pool.ts';
import { loadTexture, type FrameFormat } from './frames.ts';
import { CameraLedger } from './ledger.ts';
import { MqttCamera } from './mqtt-camera.ts';
import { CAMERA_ID } from './protocol.ts';
import { mulberry32 } from './random.ts';
import { formatProgress, formatReport, summarize, type CameraReport, type SimulationReport } from './report.ts';
import type { CameraTransport, CameraTransportListener } from './transport.ts';
import { WsCamera } from './ws-camera.ts';

export { formatReport, formatProgress, type CameraReport, type SimulationReport };

export interface SimulationOptions {
  fps: number;
  surface: string;
  /** Share of frames with drawn defects, 0..1. */
  defectRate: number;
  /** Frames per camera; undefined = until `signal` fires. */
  count?: number;
  /** Default cam-<random>; with several cameras the ids are <id>-1..K. */
  cameraId?: string;
  cameras?: number;
  /** mqtt://host:port (the default transport, mqtt://127.0.0.1:1883) ... */
  mqtt?: string;
  /** ... or ws://host:port of the node. */
  ws?: string;
  /** Side of the square frames in pixels. */
  size?: number;
  seed?: number;
  /** Wait for outstanding answers after the last send. */
  timeoutMs?: number;
  format?: FrameFormat;
  quality?: number;
  qos?: 0 | 1;
  /** Render only this many frames per camera and cycle them (cheap, for many cameras). */
  distinctFrames?: number;
  defectTypes?: readonly DefectType[];
  /** A texture file instead of models/inspect/textures/<surface>.png. */
  textureFile?: string;
  connectTimeoutMs?: number;
  /** Stops sending; the outstanding answers still get `timeoutMs`. */
  signal?: AbortSignal;
  /** Cuts the wait for outstanding answers short (a second Ctrl-C). */
  drainSignal?: AbortSignal;
  /** Put every frame record into the report. */
  recordFrames?: boolean;
  /** Called every `progressEveryMs` (default 5000) while sending, with the totals so far. */
  onProgress?: (totals: CameraReport) => void;
  progressEveryMs?: number;
}

interface ResolvedOptions
  extends Required<Omit<SimulationOptions, 'count' | 'mqtt' | 'ws' | 'distinctFrames' | 'textureFile' | 'signal' | 'drainSignal' | 'defectTypes' | 'onProgress'>> {
  count: number | undefined;
  transport: 'mqtt' | 'ws';
  url: string;
  distinctFrames: number | undefined;
  textureFile: string | undefined;
  defectTypes: readonly DefectType[];
}

function invalid(message: string): EdgeError {
  return new EdgeError('EDGE_ERR_CONFIG_INVALID', message);
}

/** Checks every option once, with messages that say what to use instead. */
export function resolveSimulationOptions(options: SimulationOptions): Readonly<ResolvedOptions> {
  const { fps, defectRate } = options;
  if (!(Number.isFinite(fps) && fps > 0 && fps <= 1000)) throw invalid(`fps must be a number above 0 and at most 1000, not ${fps}`);
  if (!(Number.isFinite(defectRate) && defectRate >= 0 && defectRate <= 1)) throw invalid(`defect rate must be from 0 to 1, not ${defectRate}`);
  const integerIn = (name: string, value: number | undefined, min: number, max: number): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) throw invalid(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  };
  integerIn('count', options.count, 1, Number.MAX_SAFE_INTEGER);
  integerIn('cameras', options.cameras, 1, 1000);
  integerIn('size', options.size, 32, 4096);
  integerIn('seed', options.seed, 0, 0xffffffff);
  integerIn('timeout', options.timeoutMs, 0, 3_600_000);
  integerIn('quality', options.quality, 1, 100);
  integerIn('distinct frames', options.distinctFrames, 1, 100_000);
  integerIn('connect timeout', options.connectTimeoutMs, 1, 600_000);
  integerIn('progress interval', options.progressEveryMs, 100, 3_600_000);
  if (options.qos !== undefined && options.qos !== 0 && options.qos !== 1) throw invalid(`qos must be 0 or 1, not ${String(options.qos)}`);
  if (options.format !== undefined && options.format !== 'jpeg' && options.format !== 'png') throw invalid(`format must be jpeg or png, not ${String(options.format)}`);
  if (options.mqtt !== undefined && options.ws !== undefined) throw invalid('give either an MQTT URL or a WebSocket URL, not both');
  const transport = options.ws === undefined ? 'mqtt' : 'ws';
  const url = options.ws ?? options.mqtt ?? 'mqtt://127.0.0.1:1883';
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw invalid(`"${url}" is not a URL; use e.g. mqtt://127.0.0.1:1883 or ws://127.0.0.1:8080`);
  }
  const expected = transport === 'ws' ? ['ws:', 'wss:'] : ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'];
  if (!expected.includes(protocol)) throw invalid(`"${url}" is not a ${transport === 'ws' ? 'ws:// or wss://' : 'mqtt:// or mqtts://'} URL`);
  const cameraId = options.cameraId ?? `cam-${randomBytes(3).toString('hex')}`;
  const cameras = options.cameras ?? 1;
  const longestId = cameras === 1 ? cameraId : `${cameraId}-${cameras}`;
  if (!CAMERA_ID.test(longestId)) throw invalid(`camera id "${longestId}" must be 1-64 of A-Z a-z 0-9 _ . -`);
  const defectTypes = options.defectTypes ?? DEFECT_TYPES;
  if (defectTypes.length === 0 || defectTypes.some((type) => !DEFECT_TYPES.includes(type))) throw invalid(`defect types must be some of ${DEFECT_TYPES.join(', ')}`);
  return Object.freeze({
    fps,
    surface: options.surface,
    defectRate,
    count: options.count,
    cameraId,
    cameras,
    transport,
    url,
    size: options.size ?? 256,
    seed: options.seed ?? randomBytes(4).readUInt32BE(0),
    timeoutMs: options.timeoutMs ?? 5000,
    format: options.format ?? 'jpeg',
    quality: options.quality ?? 90,
    qos: options.qos ?? 0,
    distinctFrames: options.distinctFrames,
    defectTypes,
    textureFile: options.textureFile,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    recordFrames: options.recordFrames ?? false,
    progressEveryMs: options.progressEveryMs ?? 5000,
  });
}

function cameraIds(options: Readonly<ResolvedOptions>): string[] {
  if (options.cameras === 1) return [options.cameraId];
  return Array.from({ length: options.cameras }, (_, index) => `${options.cameraId}-${index + 1}`);
}

function openTransport(options: Readonly<ResolvedOptions>, cameraId: string, ledger: CameraLedger): CameraTransport {
  const listener: CameraTransportListener = {
    onMessage: (text, receivedAt) => ledger.recordMessage(text, receivedAt),
    onAlert: (text) => ledger.recordAlert(text),
    onConnection: (state) => ledger.recordConnection(state),
  };
  return options.transport === 'ws'
    ? new WsCamera({ url: options.url, cameraId, surface: options.surface, listener })
    : new MqttCamera({ url: options.url, cameraId, qos: options.qos, listener });
}

/** Resolves when `signal` fires; never rejects. */
function whenAborted(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

async function sendFrames(
  options: Readonly<ResolvedOptions>,
  camera: { transport: CameraTransport; pool: FramePool; ledger: CameraLedger },
  startAt: number,
  stopped: Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const periodMs = 1000 / options.fps;
  for (let i = 0; options.count === undefined || i < options.count; i++) {
    const due = startAt + i * periodMs;
    const wait = due - performance.now();
    if (wait > 0) await Promise.race([sleep(wait), stopped]);
    // A stream the node ended for good (e.g. an unknown surface) takes no more frames.
    if (signal?.aborted || camera.transport.refusal !== undefined) return;
    const frame = await camera.pool.take();
    const sentAt = performance.now();
    const frameId = String(frame.index);
    const capturedAt = Date.now();
    const outcome = camera.transport.send({ frameId, capturedAt, surface: options.surface, bytes: frame.bytes });
    camera.ledger.recordSend({ frameId, sentAt, capturedAt, defects: frame.defects }, outcome, Math.max(0, sentAt - due));
  }
}

/** Runs the cameras and returns what they saw. Rejects only when they cannot start (texture, connection). */
export async function simulateCameras(input: SimulationOptions): Promise<SimulationReport> {
  const options = resolveSimulationOptions(input);
  const texture = await loadTexture(options.surface, options.size, options.textureFile);
  const seeds = mulberry32(options.seed);
  const cameras = cameraIds(options).map((cameraId) => {
    const ledger = new CameraLedger(cameraId, options.transport === 'mqtt');
    const pool = new FramePool({
      texture,
      seed: seeds.fork(),
      plan: { size: options.size, defectRate: options.defectRate, defectTypes: options.defectTypes },
      render: { format: options.format, quality: options.quality },
      // About a second of frames ready, at least a few.
      ahead: Math.max(4, Math.ceil(options.fps)),
      ...(options.distinctFrames === undefined ? {} : { distinct: options.distinctFrames }),
    });
    return { cameraId, ledger, pool, transport: openTransport(options, cameraId, ledger) };
  });
  const startedAt = new Date();
  let progress: NodeJS.Timeout | undefined;
  try {
    await Promise.all(cameras.map((camera) => camera.pool.prefill()));
    const stopped = whenAborted(input.signal);
    const connected = Promise.all(cameras.map((camera) => camera.transport.connect(options.connectTimeoutMs)));
    // A stop while connecting ends the run at once; the connection's late failure is then moot.
    connected.catch(() => {});
    await Promise.race([connected, stopped]);
    const clockStart = performance.now();
    const onProgress = input.onProgress;
    if (onProgress) {
      progress = setInterval(() => onProgress(summarize('all', cameras.map((camera) => camera.ledger))), options.progressEveryMs);
    }
    // Cameras start spread over one frame period, as unsynchronised cameras on a line would.
    const stagger = 1000 / options.fps / cameras.length;
    await Promise.all(cameras.map((camera, index) => sendFrames(options, camera, clockStart + index * stagger, stopped, input.signal)));
    clearInterval(progress);
    for (const camera of cameras) camera.pool.stop();
    await drain(cameras, options.timeoutMs, input.drainSignal);
    const durationS = (performance.now() - clockStart) / 1000;
    const ledgers = cameras.map((camera) => camera.ledger);
    const refused = cameras.find((camera) => camera.transport.refusal !== undefined);
    // Refused before anything was answered: the run measured nothing, so it fails with the reason.
    if (refused && cameras.every((camera) => camera.transport.refusal !== undefined) && ledgers.every((ledger) => ledger.lastAnswerAt === undefined)) {
      throw new Error(`camera ${refused.cameraId}: the node refused the stream: ${refused.transport.refusal}`);
    }
    return {
      transport: options.transport,
      url: options.url,
      surface: options.surface,
      fps: options.fps,
      defect_rate: options.defectRate,
      size: options.size,
      format: options.format,
      seed: options.seed,
      started_at: startedAt.toISOString(),
      duration_s: Number(durationS.toFixed(2)),
      cameras: cameras.map((camera) => summarize(camera.cameraId, [camera.ledger], camera.transport.refusal)),
      total: summarize('all', ledgers),
      ...(options.recordFrames ? { frames: Object.fromEntries(ledgers.map((ledger) => [ledger.cameraId, [...ledger.frames.values()]])) } : {}),
    };
  } finally {
    clearInterval(progress);
    for (const camera of cameras) camera.pool.stop();
    await Promise.all(cameras.map((camera) => camera.transport.close()));
  }
}

/** Waits until every camera is caught up (or refused), the timeout passes, or `drainSignal` fires. */
async function drain(
  cameras: readonly { ledger: CameraLedger; transport: CameraTransport }[],
  timeoutMs: number,
  drainSignal: AbortSignal | undefined,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const cut = whenAborted(drainSignal);
  const done = () => cameras.every((camera) => camera.ledger.caughtUp || camera.transport.refusal !== undefined);
  while (!done() && performance.now() < deadline && !drainSignal?.aborted) {
    await Promise.race([sleep(Math.min(20, Math.max(0, deadline - performance.now()))), cut]);
  }
}
