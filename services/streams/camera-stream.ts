/**
 * One camera's frames: at most one inspected at a time and ONE waiting. A frame that arrives while
 * another waits replaces it (the newest frame wins; the superseded one is counted as dropped), so
 * a camera faster than its model never builds a backlog: latency stays one inspection deep and
 * memory one frame per camera.
 */
import { publishStreamFrame } from '../core/events.ts';
import { errorMessage, isAlert, isErrorMessage, resultMessage, type CameraFrame, type CameraMessage, type CameraResult, type StreamTransport } from './messages.ts';

/** Runs the inspection of one frame (the hub binds it to the node's inspection task and the camera's calibration). */
export type InspectFrame = (frame: CameraFrame, signal: AbortSignal) => Promise<CameraResult>;

/** Where a camera's answers go (an MQTT topic, a WebSocket). */
export type CameraSink = (message: CameraMessage) => void;

/** Frame-to-result latencies kept per camera for its percentiles. */
const LATENCY_WINDOW = 512;

export interface CameraStats {
  camera_id: string;
  transport: StreamTransport;
  frames_in: number;
  inspected: number;
  dropped: number;
  errors: number;
  /** Defective frames answered, teach-in frames not included (they are declared defect-free). */
  defects: number;
  /** Over the last LATENCY_WINDOW inspected frames. */
  frame_to_result_ms: { p50: number | null; p99: number | null };
  last_frame_at: number | null;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export class CameraStream {
  #inFlight = false;
  #waiting: CameraFrame | undefined;
  #droppedSinceResult = 0;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #latencies: number[] = [];
  #idle: Promise<void> = Promise.resolve();
  #settleIdle: (() => void) | undefined;
  readonly #counts = { framesIn: 0, inspected: 0, dropped: 0, errors: 0, defects: 0 };
  lastActivity = Date.now();
  #lastFrameAt: number | null = null;

  constructor(
    readonly cameraId: string,
    readonly transport: StreamTransport,
    private readonly inspectFrame: InspectFrame,
    private readonly sink: CameraSink,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Takes a frame; returns false when the stream is closed (the frame is not taken). */
  offer(frame: CameraFrame): boolean {
    if (this.#closed) return false;
    this.lastActivity = Date.now();
    this.#lastFrameAt = this.lastActivity;
    this.#counts.framesIn += 1;
    this.#event({ outcome: 'received' });
    if (!this.#inFlight) {
      void this.#run(frame);
      return true;
    }
    if (this.#waiting !== undefined) this.#drop();
    this.#waiting = frame;
    return true;
  }

  /** Answers a frame that could not be taken (malformed metadata, too large) with an error, in order with the others. */
  refuse(frame: { frameId?: string; capturedAt?: number } | undefined, error: unknown): void {
    if (this.#closed) return;
    this.lastActivity = Date.now();
    this.#counts.framesIn += 1;
    this.#deliver(errorMessage(this.cameraId, frame, error));
  }

  stats(): CameraStats {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return {
      camera_id: this.cameraId,
      transport: this.transport,
      frames_in: this.#counts.framesIn,
      inspected: this.#counts.inspected,
      dropped: this.#counts.dropped,
      errors: this.#counts.errors,
      defects: this.#counts.defects,
      frame_to_result_ms: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) },
      last_frame_at: this.#lastFrameAt,
    };
  }

  /** Stops taking frames; the waiting frame is dropped and the one being inspected is aborted. Resolves when idle. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#waiting !== undefined) {
        this.#waiting = undefined;
        this.#drop();
      }
      this.#abort.abort();
    }
    return this.#idle;
  }

  #drop(): void {
    this.#counts.dropped += 1;
    this.#droppedSinceResult += 1;
    this.#event({ outcome: 'dropped' });
  }

  async #run(first: CameraFrame): Promise<void> {
    this.#inFlight = true;
    this.#idle = new Promise((resolve) => (this.#settleIdle = resolve));
    let frame: CameraFrame | undefined = first;
    while (frame !== undefined && !this.#closed) {
      let message: CameraMessage;
      try {
        const result = await this.inspectFrame(frame, this.#abort.signal);
        message = resultMessage(this.cameraId, frame, result, Date.now(), this.#droppedSinceResult);
        this.#droppedSinceResult = 0;
      } catch (error) {
        message = errorMessage(this.cameraId, frame, error);
      }
      if (!this.#closed) this.#deliver(message);
      frame = this.#waiting;
      this.#waiting = undefined;
    }
    this.#inFlight = false;
    this.#settleIdle?.();
  }

  #deliver(message: CameraMessage): void {
    if (isErrorMessage(message)) {
      this.#counts.errors += 1;
      this.#event({ outcome: 'error', code: message.error.code });
    } else {
      this.#counts.inspected += 1;
      const alert = isAlert(message);
      if (alert) this.#counts.defects += 1;
      this.#latencies.push(message.frame_to_result_ms);
      if (this.#latencies.length > LATENCY_WINDOW) this.#latencies.shift();
      this.#event({ outcome: 'inspected', defective: alert, frameToResultMs: message.frame_to_result_ms });
    }
    try {
      this.sink(message);
    } catch {
      // A sink that throws (a socket gone) must not stop the camera's loop; the transport closes the stream.
    }
  }

  #event(fields: { outcome: 'received' | 'inspected' | 'dropped' | 'error'; defective?: boolean; code?: string; frameToResultMs?: number }): void {
    publishStreamFrame({ cameraId: this.cameraId, transport: this.transport, ...fields });
  }
}
