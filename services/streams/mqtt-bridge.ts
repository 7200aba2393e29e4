/**
 * Cameras over MQTT (docs/streams.md): frames arrive on `<prefix>/{cameraId}/frames` with the image
 * as payload and `frame-id`, `captured-at`, `surface` as MQTT v5 user properties; every answer goes
 * to `<prefix>/{cameraId}/results`, defective frames also to `<prefix>/{cameraId}/alerts` (not the
 * teach-in frames of a camera's calibration).
 *
 * The broker may come and go: mqtt.js reconnects and resubscribes on its own, and the node keeps
 * serving HTTP meanwhile. Answers are published only while connected (dropped and counted
 * otherwise), so an absent broker never grows an unbounded outgoing queue in this process.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { EdgeError } from '../core/errors.ts';
import type { CameraHub } from './camera-hub.ts';
import { isValidCameraId } from './camera-id.ts';
import { checkFrameId, errorMessage, isAlert, parseCapturedAt, type CameraFrame, type CameraMessage } from './messages.ts';
import { disableNagle } from '../core/mqtt-socket.ts';

const CLOSE_GRACE_MS = 2000;

export interface MqttBridgeOptions {
  url: string;
  topicPrefix: string;
  username?: string;
  password?: string;
  maxFrameBytes: number;
  hub: CameraHub;
  log: { warn(object: object, message: string): void; info(object: object, message: string): void };
}

export interface MqttBridgeStats {
  connected: boolean;
  /** Messages on the frames topic that named no valid camera: counted and dropped (no topic to answer on). */
  unaddressable: number;
  /** Answers not published because the broker was away. */
  unpublished: number;
}

/** One user property as a string (MQTT v5 allows repeats; the first wins). */
function property(packet: IPublishPacket, name: string): string | undefined {
  const value = packet.properties?.userProperties?.[name];
  return Array.isArray(value) ? value[0] : value;
}

export class MqttCameraBridge {
  readonly #options: MqttBridgeOptions;
  readonly #client: MqttClient;
  readonly #framesTopic: string;
  #unaddressable = 0;
  #unpublished = 0;
  #warnedDown = false;
  /** Subscribed on the current connection (false from a disconnect until the next SUBACK). */
  #subscribed = false;
  readonly #subscribedWaiters = new Set<() => void>();
  #closed: Promise<void> | undefined;

  constructor(options: MqttBridgeOptions) {
    this.#options = options;
    this.#framesTopic = `${options.topicPrefix}/+/frames`;
    const clientOptions: IClientOptions = {
      protocolVersion: 5,
      clientId: `mec-node-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      // We subscribe on every connect ourselves (below); mqtt.js' own resubscription would send it twice.
      resubscribe: false,
      queueQoSZero: false,
      // Frames past twice the limit are not even delivered; those in between get an error answer.
      properties: { maximumPacketSize: options.maxFrameBytes * 2 + 64 * 1024 },
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
    };
    this.#client = mqtt.connect(options.url, clientOptions);
    this.#client.on('connect', () => {
      disableNagle(this.#client.stream);
      this.#warnedDown = false;
      options.log.info({ url: options.url }, 'MQTT broker connected');
      // Frames are perishable (the newest wins): QoS 0, nothing queued at the broker for us.
      this.#client.subscribe(this.#framesTopic, { qos: 0 }, (error) => {
        if (error) {
          options.log.warn({ err: error }, 'MQTT subscribe failed');
          return;
        }
        this.#subscribed = true;
        for (const wake of this.#subscribedWaiters) wake();
        this.#subscribedWaiters.clear();
      });
    });
    this.#client.on('close', () => {
      this.#subscribed = false;
    });
    // One warning per outage, not one per reconnect attempt (every second while the broker is away).
    const warnDown = (error?: Error): void => {
      if (this.#warnedDown) return;
      this.#warnedDown = true;
      options.log.warn({ ...(error === undefined ? {} : { err: error }), url: options.url }, 'MQTT broker unreachable; cameras over MQTT wait, reconnecting every second');
    };
    this.#client.on('error', warnDown);
    this.#client.on('offline', () => warnDown());
    this.#client.on('message', (topic, payload, packet) => this.#onFrame(topic, payload, packet));
  }

  stats(): MqttBridgeStats {
    return { connected: this.#client.connected, unaddressable: this.#unaddressable, unpublished: this.#unpublished };
  }

  /** Resolves once connected and subscribed to the frames topic (frames sent from then on reach us); rejects after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.#subscribed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#subscribedWaiters.delete(wake);
        reject(new Error(`MQTT broker ${this.#options.url} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#subscribedWaiters.add(wake);
    });
  }

  /** Disconnects (idempotent): answers in flight get up to 2 s to be acknowledged, then the socket is cut. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const gentle = this.#client.endAsync(false).then(() => true);
      const patience = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS)));
      const done = await Promise.race([gentle, patience]);
      clearTimeout(timer);
      if (!done) await this.#client.endAsync(true);
    })();
    return this.#closed;
  }

  #onFrame(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const prefix = `${this.#options.topicPrefix}/`;
    const cameraId = topic.startsWith(prefix) && topic.endsWith('/frames') ? topic.slice(prefix.length, -'/frames'.length) : '';
    if (!isValidCameraId(cameraId)) {
      this.#unaddressable += 1;
      return;
    }
    let stream;
    try {
      stream = this.#options.hub.open(cameraId, 'mqtt', (message) => this.#answer(cameraId, message));
    } catch (error) {
      // Too many cameras or shutting down: the camera still learns why on its results topic.
      this.#answer(cameraId, errorMessage(cameraId, { frameId: property(packet, 'frame-id')?.slice(0, 128) }, error));
      return;
    }
    const frameId = property(packet, 'frame-id');
    const capturedAtText = property(packet, 'captured-at');
    try {
      const frame: CameraFrame = {
        frameId: checkFrameId(frameId ?? ''),
        capturedAt: capturedAtText === undefined ? Date.now() : parseCapturedAt(capturedAtText),
        surface: requireSurface(property(packet, 'surface')),
        bytes: payload,
      };
      if (payload.byteLength > this.#options.maxFrameBytes) {
        throw new EdgeError('EDGE_ERR_STREAM_FRAME_TOO_LARGE', `frame of ${payload.byteLength} bytes; the limit is ${this.#options.maxFrameBytes} (streams.maxFrameBytes)`);
      }
      stream.offer(frame);
    } catch (error) {
      stream.refuse({ ...(frameId === undefined ? {} : { frameId: frameId.slice(0, 128) }) }, error);
    }
  }

  #answer(cameraId: string, message: CameraMessage): void {
    if (!this.#client.connected) {
      this.#unpublished += 1;
      return;
    }
    const body = JSON.stringify(message);
    const base = `${this.#options.topicPrefix}/${cameraId}`;
    this.#client.publish(`${base}/results`, body, { qos: 1 });
    // Teach-in frames are declared defect-free by the operator: never an alert, whatever they score.
    if (isAlert(message)) this.#client.publish(`${base}/alerts`, body, { qos: 1 });
  }
}

function requireSurface(value: string | undefined): string {
  if (value === undefined || value.length === 0 || value.length > 256) {
    throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'a frame needs the MQTT v5 user property "surface" (GET /v1/inspect/surfaces)');
  }
  return value;
}
