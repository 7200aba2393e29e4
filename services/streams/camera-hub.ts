/**
 * Every camera the node serves, over any transport: a bounded set of CameraStreams bound to the
 * inspection task. MQTT cameras are opened on their first frame and forgotten when idle; a
 * WebSocket camera lives as long as its socket (a second socket with the same id replaces the first).
 * The hub also holds the cameras' threshold calibrations, which outlive their streams: each frame is
 * judged by its camera's calibrated threshold, or feeds the calibration while it collects.
 */
import type { InspectionTasks, InspectResult } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import { publishStreamCameraClosed } from '../core/events.ts';
import { CameraCalibrations, type CalibrationStatus } from './calibration.ts';
import { assertCameraId } from './camera-id.ts';
import { CameraStream, type CameraSink, type CameraStats } from './camera-stream.ts';
import type { CameraFrame, CameraResult, StreamTransport } from './messages.ts';

export interface CameraHubOptions {
  inspection: InspectionTasks;
  maxCameras: number;
  /** A camera (MQTT) that sent nothing for this long is forgotten. */
  idleTimeoutMs: number;
  /** Deadline of one frame's inspection. */
  frameTimeoutMs: number;
  /** Told of every inspected frame with its bytes (the dashboard keeps the latest per camera). */
  onInspected?: (cameraId: string, frame: CameraFrame, result: InspectResult) => void;
}

const RETRY_AFTER_SECONDS = 5;

export interface CameraHubStats extends CameraStats {
  calibration: CalibrationStatus | null;
}

export class CameraHub {
  readonly #streams = new Map<string, CameraStream>();
  readonly #options: CameraHubOptions;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;
  /** Per camera id, across transports; bounded by maxCameras like the streams. */
  readonly calibrations: CameraCalibrations;

  constructor(options: CameraHubOptions) {
    this.#options = options;
    this.calibrations = new CameraCalibrations({
      maxCameras: options.maxCameras,
      serving: (surface) => options.inspection.surfaces().find((entry) => entry.name === surface),
    });
    this.#sweeper = setInterval(() => this.#forgetIdle(), Math.max(250, Math.floor(options.idleTimeoutMs / 4)));
    this.#sweeper.unref();
  }

  /** The camera's stream, opened if new. Throws EDGE_ERR_STREAM_CAMERA_ID_INVALID, EDGE_ERR_STREAM_TOO_MANY_CAMERAS, EDGE_ERR_SHUTTING_DOWN. */
  open(cameraId: string, transport: StreamTransport, sink: CameraSink, options: { replace?: boolean } = {}): CameraStream {
    assertCameraId(cameraId);
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfterSeconds: RETRY_AFTER_SECONDS });
    const key = `${transport}:${cameraId}`;
    const existing = this.#streams.get(key);
    if (existing !== undefined && !options.replace) return existing;
    if (existing !== undefined) void this.#forget(key, existing);
    if (this.#streams.size >= this.#options.maxCameras) {
      throw new EdgeError('EDGE_ERR_STREAM_TOO_MANY_CAMERAS', `the node serves ${this.#options.maxCameras} cameras already (streams.maxCameras)`, {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
        details: { maxCameras: this.#options.maxCameras },
      });
    }
    const { onInspected } = this.#options;
    const inspect = (frame: CameraFrame, signal: AbortSignal) => this.#inspect(cameraId, frame, signal);
    const stream = new CameraStream(
      cameraId,
      transport,
      onInspected === undefined ? inspect : async (frame, signal) => {
        const result = await inspect(frame, signal);
        try {
          onInspected(cameraId, frame, result);
        } catch {
          // An observer never fails a frame.
        }
        return result;
      },
      sink,
    );
    this.#streams.set(key, stream);
    return stream;
  }

  /** The stream of a camera if it is open. */
  get(cameraId: string, transport: StreamTransport): CameraStream | undefined {
    return this.#streams.get(`${transport}:${cameraId}`);
  }

  /** Closes a camera's stream (a socket gone); only `stream` itself, not a newer one that replaced it. */
  async release(stream: CameraStream): Promise<void> {
    const key = `${stream.transport}:${stream.cameraId}`;
    if (this.#streams.get(key) === stream) await this.#forget(key, stream);
    else await stream.close();
  }

  stats(): CameraHubStats[] {
    return [...this.#streams.values()]
      .map((stream) => ({ ...stream.stats(), calibration: this.calibrations.status(stream.cameraId) ?? null }))
      .sort((a, b) => a.camera_id.localeCompare(b.camera_id) || a.transport.localeCompare(b.transport));
  }

  /** Stops taking frames, aborts inspections in flight, waits for them. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#streams.entries()].map(([key, stream]) => this.#forget(key, stream)));
  }

  /** One frame through the inspection task, judged by the camera's calibrated threshold if it has one, else feeding its teach-in. */
  async #inspect(cameraId: string, frame: CameraFrame, signal: AbortSignal): Promise<CameraResult> {
    const { inspection, frameTimeoutMs } = this.#options;
    const startedTick = performance.now();
    let calibrated = false;
    const result: InspectResult = await inspection.inspect(frame.bytes, {
      surface: frame.surface,
      timeoutMs: frameTimeoutMs,
      signal,
      thresholdFor: (model, version) => {
        const threshold = this.calibrations.thresholdFor(cameraId, frame.surface, model, version);
        calibrated = threshold !== undefined;
        return threshold;
      },
    });
    const teachIn = this.calibrations.record(cameraId, result, startedTick);
    if (teachIn !== undefined) return { ...result, teachIn };
    return calibrated ? { ...result, calibrated } : result;
  }

  async #forget(key: string, stream: CameraStream): Promise<void> {
    this.#streams.delete(key);
    await stream.close();
    publishStreamCameraClosed({ cameraId: stream.cameraId, transport: stream.transport });
  }

  #forgetIdle(): void {
    const before = Date.now() - this.#options.idleTimeoutMs;
    for (const [key, stream] of this.#streams) {
      if (stream.transport === 'mqtt' && stream.lastActivity < before) void this.#forget(key, stream);
    }
  }
}
