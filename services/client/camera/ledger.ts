/**
 * One camera's book of what was sent and what came back: every frame with its drawn defects and
 * send time, every answer matched to its frame by frame_id, and the counts of everything that did
 * not fit (malformed, unknown frame, duplicate answer). report.ts turns it into numbers.
 */
import type { Box } from '../../core/contracts.ts';
import type { DefectType } from './defects.ts';
import { parseStreamMessage, type ResultRegion } from './protocol.ts';
import type { SendOutcome } from './transport.ts';

export interface GroundTruthDefect {
  type: DefectType;
  box: Box;
}

export type FrameAnswer =
  | { kind: 'result'; receivedAt: number; defective: boolean; score: number; regions: ResultRegion[] }
  | { kind: 'error'; receivedAt: number; code: string };

export interface FrameRecord {
  frameId: string;
  /** performance.now() when it was handed to the connection. */
  sentAt: number;
  /** Date.now() sent to the node as captured_at. */
  capturedAt: number;
  /** Empty on a good frame. */
  defects: GroundTruthDefect[];
  answer?: FrameAnswer;
  /** An alert for this frame arrived (MQTT). */
  alerted?: boolean;
}

export interface SentFrame {
  frameId: string;
  sentAt: number;
  capturedAt: number;
  defects: GroundTruthDefect[];
}

export class CameraLedger {
  readonly cameraId: string;
  readonly frames = new Map<string, FrameRecord>();
  /** Frames not sent: no connection, or the connection's buffer over its cap. */
  readonly notSent = { offline: 0, backpressure: 0 };
  readonly errorsByCode: Record<string, number> = {};
  /** Sum of the node's `dropped` counters: frames it superseded and never answered. */
  serverDropped = 0;
  malformed = 0;
  /** Answers naming a frame this camera never sent (or another camera). */
  unmatched = 0;
  /** A second answer to an already answered frame. */
  duplicates = 0;
  alerts = 0;
  disconnects = 0;
  /** Milliseconds each send left after its slot (start + i/fps). */
  readonly sendLagsMs: number[] = [];
  firstSentAt: number | undefined;
  lastSentFrameId: string | undefined;
  lastAnswerAt: number | undefined;
  private connected = false;
  private readonly malformedSamples: string[] = [];

  /** MQTT repeats defective results on an alerts topic; the WebSocket has none. */
  readonly expectAlerts: boolean;

  constructor(cameraId: string, expectAlerts: boolean) {
    this.cameraId = cameraId;
    this.expectAlerts = expectAlerts;
  }

  recordSend(frame: SentFrame, outcome: SendOutcome, lagMs: number): void {
    this.sendLagsMs.push(lagMs);
    if (outcome !== 'sent') {
      this.notSent[outcome]++;
      return;
    }
    this.firstSentAt ??= frame.sentAt;
    this.lastSentFrameId = frame.frameId;
    this.frames.set(frame.frameId, { ...frame });
  }

  recordMessage(text: string, receivedAt: number): void {
    const message = parseStreamMessage(text);
    if (message.kind === 'malformed') {
      this.noteMalformed(message.reason);
      return;
    }
    if (message.kind === 'error') {
      const { error, frame_id: frameId, camera_id: cameraId } = message.error;
      this.errorsByCode[error.code] = (this.errorsByCode[error.code] ?? 0) + 1;
      // An error about the stream itself (no frame) is counted by code only.
      if (frameId === null) return;
      this.answer(cameraId, frameId, { kind: 'error', receivedAt, code: error.code });
      return;
    }
    const { result } = message;
    this.serverDropped += result.dropped;
    this.answer(result.camera_id, result.frame_id, {
      kind: 'result',
      receivedAt,
      defective: result.defective,
      score: result.score,
      regions: result.regions,
    });
  }

  /** Alerts repeat the results of defective frames; the report checks that each one came. */
  recordAlert(text: string): void {
    const message = parseStreamMessage(text);
    if (message.kind !== 'result' || !message.result.defective) {
      this.noteMalformed(message.kind === 'malformed' ? `alert: ${message.reason}` : 'an alert that is not a defective result');
      return;
    }
    this.alerts++;
    const { camera_id: cameraId, frame_id: frameId } = message.result;
    const record = cameraId === this.cameraId ? this.frames.get(frameId) : undefined;
    if (record) record.alerted = true;
    else this.unmatched++;
  }

  recordConnection(state: 'up' | 'down'): void {
    if (state === 'down' && this.connected) this.disconnects++;
    this.connected = state === 'up';
  }

  /**
   * True when the last frame sent has its answer (and its alert, when defective): nothing later is
   * expected, since the node answers a camera's frames in order and drops superseded ones.
   */
  get caughtUp(): boolean {
    if (this.lastSentFrameId === undefined) return true;
    const last = this.frames.get(this.lastSentFrameId);
    if (last?.answer === undefined) return false;
    return !this.expectAlerts || last.answer.kind !== 'result' || !last.answer.defective || last.alerted === true;
  }

  /** A few reasons why messages were malformed, for the report. */
  get malformedReasons(): readonly string[] {
    return this.malformedSamples;
  }

  private noteMalformed(reason: string): void {
    this.malformed++;
    if (this.malformedSamples.length < 5 && !this.malformedSamples.includes(reason)) this.malformedSamples.push(reason);
  }

  private answer(cameraId: string, frameId: string, answer: FrameAnswer): void {
    const record = cameraId === this.cameraId ? this.frames.get(frameId) : undefined;
    if (!record) {
      this.unmatched++;
      return;
    }
    if (record.answer) {
      this.duplicates++;
      return;
    }
    record.answer = answer;
    this.lastAnswerAt = Math.max(this.lastAnswerAt ?? 0, answer.receivedAt);
  }
}
