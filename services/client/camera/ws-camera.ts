/**
 * A camera that streams frames to the node over one WebSocket: a text header
 * {"frame_id","captured_at"} before each binary frame, one text message back per result or error.
 * Lost connections are reopened with backoff; a close for policy (1008, e.g. unknown surface) or
 * size (1009) is final, since reconnecting would only be refused again.
 */
import WebSocket from 'ws';
import { streamUrl, type FrameHeader } from './protocol.ts';
import { MAX_BUFFERED_BYTES, type CameraTransport, type CameraTransportListener, type OutgoingFrame, type SendOutcome } from './transport.ts';

export interface WsCameraOptions {
  url: string;
  cameraId: string;
  surface: string;
  listener: CameraTransportListener;
}

/** Close codes after which the node will refuse us again: no reconnect. */
const FINAL_CLOSE_CODES = new Set([1008, 1009]);
const CLOSE_NAMES: Record<number, string> = { 1008: 'policy', 1009: 'frame too big', 1011: 'server error', 1001: 'going away', 1006: 'abnormal' };
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

export class WsCamera implements CameraTransport {
  readonly cameraId: string;
  private readonly options: WsCameraOptions;
  private readonly url: string;
  private socket: WebSocket | undefined;
  private closed = false;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Why the node ended the stream for good (1008/1009), or undefined while it may come back. */
  private finalClose: string | undefined;
  /** The last error JSON before a close, so that a refusal can be explained. */
  private lastText = '';

  constructor(options: WsCameraOptions) {
    this.options = options;
    this.cameraId = options.cameraId;
    this.url = streamUrl(options.url, options.cameraId, options.surface);
  }

  connect(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`camera ${this.cameraId}: no WebSocket connection to ${this.url} within ${timeoutMs} ms; is the node running?`));
      }, timeoutMs);
      this.open(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (why) => {
          clearTimeout(timer);
          reject(new Error(`camera ${this.cameraId}: the node refused the stream ${this.url}: ${why}`));
        },
      );
    });
  }

  private open(onFirstOpen?: () => void, onRefused?: (why: string) => void): void {
    const { listener } = this.options;
    const socket = new WebSocket(this.url, { handshakeTimeout: 5000 });
    this.socket = socket;
    let lastError = '';
    socket.on('open', () => {
      this.reconnectDelayMs = RECONNECT_MIN_MS;
      listener.onConnection('up');
      onFirstOpen?.();
      onFirstOpen = undefined;
      onRefused = undefined;
    });
    socket.on('message', (data, isBinary) => {
      const receivedAt = performance.now();
      if (isBinary) return;
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
      this.lastText = text;
      listener.onMessage(text, receivedAt);
    });
    socket.on('error', (error) => {
      // 'close' follows every 'error'; this listener also keeps the process from crashing.
      lastError = error.message;
    });
    socket.on('close', (code, reasonBytes) => {
      const reason = reasonBytes.toString('utf8');
      const why = `close ${code} (${CLOSE_NAMES[code] ?? 'closed'})${reason ? `: ${reason}` : ''}${lastError ? ` [${lastError}]` : ''}`;
      if (this.closed) return;
      listener.onConnection('down', why);
      if (FINAL_CLOSE_CODES.has(code)) {
        this.finalClose = `${why}${this.lastText ? ` after ${this.lastText}` : ''}`;
        onRefused?.(this.finalClose);
        return;
      }
      this.reconnectTimer = setTimeout(() => this.open(onFirstOpen, onRefused), this.reconnectDelayMs);
      this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
    });
  }

  /** Why the node ended this stream for good, if it did. */
  get refusal(): string | undefined {
    return this.finalClose;
  }

  send(frame: OutgoingFrame): SendOutcome {
    const socket = this.socket;
    if (this.closed || !socket || socket.readyState !== WebSocket.OPEN) return 'offline';
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) return 'backpressure';
    const header: FrameHeader = { frame_id: frame.frameId, captured_at: frame.capturedAt };
    socket.send(JSON.stringify(header));
    socket.send(frame.bytes, { binary: true });
    return 'sent';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close(1000, 'camera done');
    });
  }
}
