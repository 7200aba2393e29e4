/**
 * A camera that publishes frames to the node over MQTT v5 and subscribes to its results and alerts.
 * mqtt.js reconnects by itself; subscribing again on every connect keeps results flowing after a
 * broker restart (a clean session forgets subscriptions, and a restarted broker may have lost them).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { topics } from './protocol.ts';
import { MAX_BUFFERED_BYTES, type CameraTransport, type CameraTransportListener, type OutgoingFrame, type SendOutcome } from './transport.ts';
import { disableNagle } from '../../core/mqtt-socket.ts';

export interface MqttCameraOptions {
  url: string;
  cameraId: string;
  qos: 0 | 1;
  listener: CameraTransportListener;
}

export class MqttCamera implements CameraTransport {
  readonly cameraId: string;
  private readonly options: MqttCameraOptions;
  private client: MqttClient | undefined;
  private subscribed = false;
  private closed = false;

  constructor(options: MqttCameraOptions) {
    this.options = options;
    this.cameraId = options.cameraId;
  }

  connect(timeoutMs: number): Promise<void> {
    const { url, cameraId, listener } = this.options;
    const results = topics.results(cameraId);
    const alerts = topics.alerts(cameraId);
    const client = mqtt.connect(url, {
      protocolVersion: 5,
      clientId: `mec-camera-${cameraId}-${randomBytes(4).toString('hex')}`,
      clean: true,
      // Subscriptions are renewed in the 'connect' handler below, every time.
      resubscribe: false,
      reconnectPeriod: 500,
      connectTimeout: timeoutMs,
      // A frame that waited out a broker outage is stale: drop it rather than flood the node later.
      queueQoSZero: false,
    });
    this.client = client;
    let lastError = '';
    client.on('error', (error) => {
      lastError = error.message;
    });
    client.on('message', (topic, payload) => {
      const receivedAt = performance.now();
      if (topic === results) listener.onMessage(payload.toString('utf8'), receivedAt);
      else if (topic === alerts) listener.onAlert(payload.toString('utf8'), receivedAt);
    });
    // 'close' comes on every lost connection and failed attempt; the listener counts transitions.
    client.on('close', () => {
      this.subscribed = false;
      if (!this.closed) listener.onConnection('down', lastError || 'connection closed');
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`camera ${cameraId}: no MQTT connection to ${url} within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}; is the broker running?`));
      }, timeoutMs);
      client.on('connect', () => {
        disableNagle(client.stream);
        client.subscribe([results, alerts], { qos: 1 }, (error) => {
          if (error) {
            lastError = error.message;
            return;
          }
          this.subscribed = true;
          listener.onConnection('up');
          clearTimeout(timer);
          resolve();
        });
      });
    });
  }

  /** An MQTT broker does not refuse one camera's stream; the node answers errors per frame. */
  get refusal(): undefined {
    return undefined;
  }

  send(frame: OutgoingFrame): SendOutcome {
    const client = this.client;
    // Frames sent before the results subscription is back would be answered into the void.
    if (!client || this.closed || !client.connected || !this.subscribed) return 'offline';
    if ((client.stream?.writableLength ?? 0) > MAX_BUFFERED_BYTES) return 'backpressure';
    client.publish(topics.frames(this.cameraId), frame.bytes, {
      qos: this.options.qos,
      properties: {
        userProperties: { 'frame-id': frame.frameId, 'captured-at': String(frame.capturedAt), surface: frame.surface },
      },
    });
    return 'sent';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client?.endAsync(true);
  }
}
