/**
 * Cameras over WebSocket: `GET /v1/streams/{cameraId}?surface=NAME` upgrades; each binary message is
 * a frame (JPEG/PNG/WebP bytes), optionally preceded by a text message
 * `{"frame_id": "...", "captured_at": <ms>, "surface"?: "..."}` that applies to it; each answer is a
 * text message (docs/streams.md). Frames over streams.maxFrameBytes close the socket with 1009; an
 * unknown surface at connect is answered with an error message and close 1008.
 * `GET /v1/streams` lists the cameras being served with their counters and calibration state
 * (the calibration routes are in stream-calibration.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { EdgeError } from '../../core/errors.ts';
import type { RouteOptions } from '../deps.ts';
import { CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY, jsonSender } from '../websocket.ts';
import type { CameraStream } from '../../streams/camera-stream.ts';
import { checkFrameId, errorMessage, parseCapturedAt, type CameraFrame } from '../../streams/messages.ts';

/** Answers a client has not read yet; past this it is not reading and is disconnected. */

interface FrameMetadata {
  frameId?: string;
  capturedAt?: number;
  surface?: string;
}

/** A text message: the metadata of the next frame. */
function parseMetadata(text: string): FrameMetadata {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'a text message must be JSON {"frame_id", "captured_at", "surface"?} describing the next frame');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'a text message must be a JSON object');
  }
  const { frame_id: frameId, captured_at: capturedAt, surface, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', `unknown metadata fields: ${Object.keys(rest).slice(0, 5).join(', ')}`);
  if (frameId !== undefined && typeof frameId !== 'string') throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'frame_id must be a string');
  if (surface !== undefined && (typeof surface !== 'string' || surface.length === 0 || surface.length > 256)) {
    throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'surface must be a non-empty string');
  }
  return {
    ...(frameId === undefined ? {} : { frameId: checkFrameId(frameId) }),
    ...(capturedAt === undefined ? {} : { capturedAt: parseCapturedAt(capturedAt) }),
    ...(surface === undefined ? {} : { surface: surface as string }),
  };
}

function bytesOf(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

export async function streamRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const hub = deps.streams.hub;
  app.get('/v1/streams', { schema: { summary: 'Cameras being served, with their counters', tags: ['streams'] } }, async () => ({
    cameras: hub.stats(),
    mqtt: deps.streams.mqtt?.() ?? null,
  }));

  app.get<{ Params: { cameraId: string }; Querystring: { surface?: string } }>(
    '/v1/streams/:cameraId',
    { websocket: true, schema: { hide: true } },
    (socket: WebSocket, request) => {
      const { cameraId } = request.params;
      const surface = request.query.surface;
      const send = jsonSender(socket);
      const refuse = (error: unknown): void => {
        const message = errorMessage(cameraId.slice(0, 64), undefined, error);
        send(message);
        socket.close(CLOSE_POLICY, message.error.code);
      };

      let stream: CameraStream;
      try {
        if (surface === undefined || surface.length === 0) throw new EdgeError('EDGE_ERR_QUERY_INVALID', 'connect with ?surface=NAME (GET /v1/inspect/surfaces)');
        deps.inspection.assertSurface(surface);
        stream = hub.open(cameraId, 'websocket', send, { replace: true });
      } catch (error) {
        refuse(error);
        return;
      }

      let sequence = 0;
      let next: FrameMetadata | undefined;
      socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        if (!isBinary) {
          try {
            next = parseMetadata(bytesOf(data).toString('utf8'));
          } catch (error) {
            next = undefined;
            stream.refuse(undefined, error);
          }
          return;
        }
        const bytes = bytesOf(data);
        if (bytes.byteLength > config.streams.maxFrameBytes) {
          socket.close(CLOSE_MESSAGE_TOO_BIG, 'frame larger than streams.maxFrameBytes');
          return;
        }
        sequence += 1;
        const metadata = next ?? {};
        next = undefined;
        const frame: CameraFrame = {
          frameId: metadata.frameId ?? String(sequence),
          capturedAt: metadata.capturedAt ?? Date.now(),
          surface: metadata.surface ?? surface,
          bytes,
        };
        // A newer connection with this camera id replaced this one (hub.open with replace).
        if (!stream.offer(frame) && stream.closed) socket.close(CLOSE_POLICY, 'replaced by a newer connection of this camera');
      });
      socket.on('close', () => void hub.release(stream));
      socket.on('error', () => void hub.release(stream));
    },
  );
}
