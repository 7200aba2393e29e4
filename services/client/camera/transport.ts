/**
 * What the simulation loop needs from a camera connection, MQTT or WebSocket alike: send one frame
 * now (or say why not), and hand over every message the node sends back with its arrival time.
 */

export interface OutgoingFrame {
  frameId: string;
  /** Milliseconds since the epoch, as the node sees it. */
  capturedAt: number;
  surface: string;
  bytes: Buffer;
}

/**
 * 'offline': not connected (a camera does not queue stale frames); 'backpressure': the connection's
 * send buffer is over its cap, so the frame is skipped instead of piling up in memory.
 */
export type SendOutcome = 'sent' | 'offline' | 'backpressure';

export interface CameraTransportListener {
  /** A text message from the node (result or error JSON); receivedAt is performance.now(). */
  onMessage(text: string, receivedAt: number): void;
  /** An alert (defective frames only); MQTT has a topic for them, the WebSocket does not. */
  onAlert(text: string, receivedAt: number): void;
  /** The connection came up (again) or went down; `detail` says why it went down. */
  onConnection(state: 'up' | 'down', detail?: string): void;
}

export interface CameraTransport {
  readonly cameraId: string;
  /** Resolves once connected and subscribed; rejects if that does not happen within the timeout. */
  connect(timeoutMs: number): Promise<void>;
  send(frame: OutgoingFrame): SendOutcome;
  /** Why the node ended this stream for good (e.g. WebSocket close 1008), or undefined. */
  readonly refusal: string | undefined;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Past this many unsent bytes on one connection, frames are skipped (bounded memory). */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
