/**
 * What the dashboard shows, kept in bounded memory and fanned out to Server-Sent-Events clients.
 * It is fed from the outside (the node's placement callback, the camera hub's inspected frames,
 * transcripts) and polls the node's tier status once a second. Every store is bounded: the last
 * N decisions, one latency bucket per second for a window, one frame per camera for a few cameras,
 * the last transcripts, and per client a queue that drops its oldest events (then tells the client
 * with a `gap` event) so that a slow reader never grows memory.
 */
import type { InspectResult, RepositoryEntry } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import type { PlacementEvent } from '../core/events.ts';
import type { TierStatus } from '../tiers/tier-status.ts';
import type { CameraStats } from '../streams/camera-stream.ts';
import { FeedClient, formatEvent } from './feed-client.ts';

export interface LiveFeedOptions {
  /** This node's status (GET /v1/tier/status): load, served variants, its view of the cloud. */
  tierStatus: () => TierStatus;
  /** The model repository's index (name, version, state). */
  models: () => RepositoryEntry[];
  /** The camera hub's counters (frames in, dropped). */
  cameras?: () => CameraStats[];
  maxClients?: number;
  /** Events one client may have queued before its oldest are dropped. */
  clientBuffer?: number;
  maxDecisions?: number;
  /** Seconds of per-tier latency kept (one bucket a second). */
  latencyWindowSeconds?: number;
  /** Cameras whose latest frame is kept (least recently updated forgotten first). */
  maxCameras?: number;
  maxTranscripts?: number;
  tickMs?: number;
}

export interface Decision extends PlacementEvent {
  at: number;
}

/** Per tier, over one second: finished requests and their latency. */
export interface LatencyBucket {
  t: number;
  tiers: Record<string, { n: number; avg_ms: number; max_ms: number }>;
}

export interface CameraView {
  camera_id: string;
  /** Increments with every inspected frame: the page reloads the image when it changes. */
  seq: number;
  frame_id: string;
  at: number;
  width: number;
  height: number;
  defective: boolean;
  score: number;
  regions: InspectResult['regions'];
  model: string;
  version: string;
  fps: number;
  frames_in: number;
  dropped: number;
}

export interface Transcript {
  at: number;
  text: string;
  model?: string;
  tier?: string;
}

interface StoredFrame {
  bytes: Uint8Array;
  view: CameraView;
}

/** A camera's latest frame and the one before: a page that asks for the frame of the event it
 *  just got still finds it when a newer one arrived meanwhile (the boxes must match the image). */
interface CameraFrames {
  latest: StoredFrame;
  previous?: StoredFrame;
}

const DEFAULTS = { maxClients: 32, clientBuffer: 256, maxDecisions: 100, latencyWindowSeconds: 300, maxCameras: 16, maxTranscripts: 20, tickMs: 1000 };
const RETRY_AFTER_SECONDS = 5;

export class LiveFeed {
  readonly #options: Required<Omit<LiveFeedOptions, 'cameras'>> & Pick<LiveFeedOptions, 'cameras'>;
  readonly #clients = new Set<FeedClient>();
  readonly #decisions: Decision[] = [];
  readonly #latency: LatencyBucket[] = [];
  readonly #sums = new Map<string, { n: number; sum: number; max: number }>();
  readonly #frames = new Map<string, CameraFrames>();
  readonly #transcripts: Transcript[] = [];
  readonly #framesInBefore = new Map<string, number>();
  readonly #fps = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  #seq = 0;
  #closed = false;

  constructor(options: LiveFeedOptions) {
    this.#options = { ...DEFAULTS, ...options };
    this.#timer = setInterval(() => this.tick(), this.#options.tickMs);
    this.#timer.unref();
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** Each live client's queue: events waiting and events lost so far. */
  clientStats(): Array<{ queued: number; lost: number }> {
    return [...this.#clients].map((client) => ({ queued: client.queued, lost: client.lost }));
  }

  /** The dispatcher's onDecision: one placement decision. */
  placement(event: PlacementEvent): void {
    if (this.#closed) return;
    const decision: Decision = { ...event, at: Date.now() };
    this.#decisions.push(decision);
    if (this.#decisions.length > this.#options.maxDecisions) this.#decisions.shift();
    if (event.actualMs !== undefined && event.tier !== 'none') {
      const sum = this.#sums.get(event.tier) ?? { n: 0, sum: 0, max: 0 };
      sum.n += 1;
      sum.sum += event.actualMs;
      sum.max = Math.max(sum.max, event.actualMs);
      this.#sums.set(event.tier, sum);
    }
    this.#broadcast('placement', decision);
  }

  /** The camera hub's hook: a frame was inspected (its bytes are kept until the camera's next one). */
  cameraFrame(cameraId: string, frame: { frameId: string; bytes: Uint8Array }, result: InspectResult): void {
    if (this.#closed) return;
    const stats = this.#options.cameras?.().find((camera) => camera.camera_id === cameraId);
    this.#seq += 1;
    const view: CameraView = {
      camera_id: cameraId,
      seq: this.#seq,
      frame_id: frame.frameId,
      at: Date.now(),
      width: result.width,
      height: result.height,
      defective: result.defective,
      score: result.score,
      regions: result.regions,
      model: result.model,
      version: result.version,
      fps: this.#fps.get(cameraId) ?? 0,
      frames_in: stats?.frames_in ?? 0,
      dropped: stats?.dropped ?? 0,
    };
    // Re-inserted so that the map's order is least recently updated first.
    const before = this.#frames.get(cameraId);
    this.#frames.delete(cameraId);
    this.#frames.set(cameraId, { latest: { bytes: frame.bytes, view }, ...(before ? { previous: before.latest } : {}) });
    while (this.#frames.size > this.#options.maxCameras) this.#frames.delete(this.#frames.keys().next().value!);
    this.#broadcast('camera', view);
  }

  transcript(entry: Omit<Transcript, 'at'>): void {
    if (this.#closed) return;
    const transcript: Transcript = { ...entry, at: Date.now() };
    this.#transcripts.push(transcript);
    if (this.#transcripts.length > this.#options.maxTranscripts) this.#transcripts.shift();
    this.#broadcast('transcript', transcript);
  }

  /** The camera's latest frame, or with `seq` that frame if it is one of the last two kept. */
  latestFrame(cameraId: string, seq?: number): StoredFrame | undefined {
    const frames = this.#frames.get(cameraId);
    if (frames === undefined || seq === undefined) return frames?.latest;
    return [frames.latest, frames.previous].find((frame) => frame?.view.seq === seq);
  }

  snapshot() {
    return {
      tiers: this.#tiers(),
      decisions: [...this.#decisions],
      latency: [...this.#latency],
      cameras: [...this.#frames.values()].map((frames) => frames.latest.view),
      transcripts: [...this.#transcripts],
    };
  }

  /** A new SSE client, its first event the snapshot. EDGE_ERR_QUEUE_FULL (503) past maxClients or once closed. */
  subscribe(): FeedClient {
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfterSeconds: RETRY_AFTER_SECONDS });
    if (this.#clients.size >= this.#options.maxClients) {
      throw new EdgeError('EDGE_ERR_QUEUE_FULL', `the dashboard serves ${this.#options.maxClients} live clients already`, {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
        details: { reason: 'dashboard-clients', maxClients: this.#options.maxClients },
      });
    }
    const client = new FeedClient(this.#options.clientBuffer, () => this.#clients.delete(client));
    this.#clients.add(client);
    client.push('snapshot', this.snapshot());
    return client;
  }

  /** Once a second: closes the latency bucket, updates frame rates, sends `tiers`. Public for tests. */
  tick(): void {
    if (this.#closed) return;
    const tiers: LatencyBucket['tiers'] = {};
    for (const [tier, sum] of this.#sums) tiers[tier] = { n: sum.n, avg_ms: Math.round((sum.sum / sum.n) * 10) / 10, max_ms: Math.round(sum.max * 10) / 10 };
    this.#sums.clear();
    const bucket: LatencyBucket = { t: Date.now(), tiers };
    this.#latency.push(bucket);
    if (this.#latency.length > this.#options.latencyWindowSeconds) this.#latency.shift();
    const seconds = this.#options.tickMs / 1000;
    const seen = new Set<string>();
    for (const camera of this.#options.cameras?.() ?? []) {
      seen.add(camera.camera_id);
      const before = this.#framesInBefore.get(camera.camera_id) ?? camera.frames_in;
      this.#fps.set(camera.camera_id, Math.round(((camera.frames_in - before) / seconds) * 10) / 10);
      this.#framesInBefore.set(camera.camera_id, camera.frames_in);
    }
    for (const id of this.#framesInBefore.keys()) if (!seen.has(id)) (this.#framesInBefore.delete(id), this.#fps.delete(id));
    if (this.#clients.size > 0) this.#broadcast('tiers', { ...this.#tiers(), latency: bucket });
  }

  /** Ends every client (their streams end) and stops the clock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const client of [...this.#clients]) client.close();
    this.#clients.clear();
    this.#frames.clear();
  }

  #tiers() {
    let status: TierStatus | { error: string };
    try {
      status = this.#options.tierStatus();
    } catch (error) {
      status = { error: error instanceof Error ? error.message : String(error) };
    }
    const cameras = (this.#options.cameras?.() ?? []).map((camera) => ({ ...camera, fps: this.#fps.get(camera.camera_id) ?? 0 }));
    return { at: Date.now(), status, models: this.#options.models(), cameras };
  }

  #broadcast(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    // Serialised once for every client.
    const text = formatEvent(event, data);
    for (const client of this.#clients) client.pushText(text);
  }
}
