/**
 * Speech recognition over HTTP (docs/asr.md):
 * - `POST /v1/asr`: a WAV file as the body -> {text, words, duration_ms, model, version, timings}.
 * - `GET /v1/asr/stream` (WebSocket): binary messages are audio, PCM 16-bit signed little-endian
 *   mono 16 kHz (`?format=f32`: float32 little-endian); the text message `{"type":"end"}` finalises
 *   and the node closes with 1000 once the last final was sent. The node sends text messages
 *   `{"type":"partial"|"final", ...UtteranceResult}` and `{"type":"error", "code", "message"}`.
 *
 * Only 16 kHz is streamed: resampleTo16k works on whole buffers (it pads each call's edges with
 * silence), so chunk-wise use would click at every message boundary; `?rate=` other than 16000 is
 * refused (EDGE_ERR_QUERY_INVALID) instead of being served badly.
 *
 * Socket rules: a message that is not whole samples (odd bytes for 16-bit, not a multiple of 4 for
 * float) is an error message then close 1007 (invalid payload); more than speech.stream.maxStreams
 * streams at once: error EDGE_ERR_QUEUE_FULL then close 1013 (try again later); a sender more than
 * maxUtteranceSeconds ahead of the node: the same; a message over MAX_MESSAGE_SECONDS of audio:
 * ws closes 1009; a client not reading its results (over MAX_UNREAD_BYTES): close 1008; a stream
 * that cannot open (recogniser not loaded, node closing): its error, then 1013. When the
 * socket closes, its stream is closed (pending recognitions are dropped).
 *
 * The WebSocket plugin is registered once for all routes (services/http/websocket.ts), with the
 * largest of the routes' limits: this route checks MAX_MESSAGE_BYTES itself (close 1009).
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { SpeechStream, UtteranceResult } from '../../core/contracts.ts';
import { EdgeError, toEdgeError } from '../../core/errors.ts';
import type { RouteOptions } from '../deps.ts';
import { CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY, jsonSender } from '../websocket.ts';
import { acceptAudioBodies, AUDIO_CONTENT_TYPES, audioBodyLimit, audioRouteErrors, readAudio } from '../audio-body.ts';
import { statusOf } from '../error-status.ts';
import { clientGoneSignal } from '../request-signal.ts';
import { documentedBody, TIMINGS, V1_ERROR, withPlacement } from '../schemas.ts';
import { readRequestMeta } from '../../dispatch/request-meta.ts';

const STREAM_RATE = 16_000;
/** Largest binary message: 4 s of float32 at 16 kHz (256 KiB); clients send 20-200 ms chunks. */
const MAX_MESSAGE_SECONDS = 4;
export const MAX_MESSAGE_BYTES = MAX_MESSAGE_SECONDS * STREAM_RATE * 4;
const CLOSE_NORMAL = 1000;
const CLOSE_INVALID_PAYLOAD = 1007;
const CLOSE_INTERNAL_ERROR = 1011;
const CLOSE_TRY_AGAIN_LATER = 1013;

type SampleFormat = 's16' | 'f32';

const WORD = {
  type: 'object',
  properties: {
    word: { type: 'string' },
    start_ms: { type: 'number', description: 'From the start of the audio sent' },
    end_ms: { type: 'number' },
    confidence: { type: 'number', description: 'Mean probability of the word over its frames, in [0, 1]' },
  },
  required: ['word', 'start_ms', 'end_ms', 'confidence'],
} as const;

const TRANSCRIBE_RESPONSE = {
  type: 'object',
  properties: {
    text: { type: 'string', description: 'The words joined by single spaces; empty for silence' },
    words: { type: 'array', items: WORD },
    duration_ms: { type: 'number', description: 'Length of the audio received' },
    model: { type: 'string' },
    version: { type: 'string' },
    timings: TIMINGS,
  },
  required: ['text', 'words', 'duration_ms', 'model', 'version', 'timings'],
} as const;

const AUDIO_BODY = {
  description: `A WAV file (PCM 8/16/24/32-bit integer or 32-bit float, mono or stereo, any sample rate) as the body: ${AUDIO_CONTENT_TYPES.join(', ')}`,
  type: 'string',
  format: 'binary',
} as const;

/** `?format=s16|f32&rate=16000`; anything else is EDGE_ERR_QUERY_INVALID. */
function parseStreamQuery(query: Record<string, unknown>): SampleFormat {
  const { format = 's16', rate, ...rest } = query;
  if (Object.keys(rest).length > 0) throw new EdgeError('EDGE_ERR_QUERY_INVALID', `unknown query parameters: ${Object.keys(rest).slice(0, 5).join(', ')} (format, rate)`);
  if (format !== 's16' && format !== 'f32') throw new EdgeError('EDGE_ERR_QUERY_INVALID', 'format must be s16 (PCM 16-bit little-endian, the default) or f32 (float32 little-endian)');
  if (rate !== undefined && rate !== String(STREAM_RATE)) {
    throw new EdgeError('EDGE_ERR_QUERY_INVALID', `rate must be ${STREAM_RATE}: streams are mono 16 kHz (resample on the device, or POST a WAV to /v1/asr at any rate)`);
  }
  return format;
}

/** One binary message -> samples in [-1, 1] (floats clamped, NaN -> 0); EDGE_ERR_REQUEST_MALFORMED unless it holds whole samples. */
function samplesOf(bytes: Buffer, format: SampleFormat): Float32Array {
  const size = format === 's16' ? 2 : 4;
  if (bytes.length % size !== 0) {
    throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `a binary message must hold whole ${format === 's16' ? '16-bit' : 'float32'} samples: ${bytes.length} bytes is not a multiple of ${size}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Float32Array(bytes.length / size);
  if (format === 's16') for (let index = 0; index < samples.length; index += 1) samples[index] = view.getInt16(index * 2, true) / 32_768;
  else {
    // As wav.ts does for float files: one NaN or out-of-range sample must not poison a whole feature window.
    for (let index = 0; index < samples.length; index += 1) {
      const value = view.getFloat32(index * 4, true);
      samples[index] = Number.isFinite(value) ? Math.max(-1, Math.min(1, value)) : 0;
    }
  }
  return samples;
}

function bytesOf(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** A text message: only `{"type":"end"}` is defined; anything else is EDGE_ERR_REQUEST_MALFORMED. */
function checkEndMessage(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed !== null && typeof parsed === 'object' && (parsed as { type?: unknown }).type === 'end') return;
  throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', 'the only text message is {"type":"end"}; audio goes in binary messages');
}

export async function asrRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const bodyLimit = audioBodyLimit(config);
  const { maxStreams } = config.speech.stream;
  acceptAudioBodies(app, bodyLimit);

  app.post(
    '/v1/asr',
    {
      bodyLimit,
      errorHandler: audioRouteErrors,
      config: documentedBody(AUDIO_BODY),
      schema: {
        summary: 'Recognise the speech in a WAV file',
        tags: ['speech'],
        consumes: [...AUDIO_CONTENT_TYPES],
        response: { 200: withPlacement(TRANSCRIBE_RESPONSE), 400: V1_ERROR, 403: V1_ERROR, 413: V1_ERROR, 415: V1_ERROR, 422: V1_ERROR, 502: V1_ERROR, 503: V1_ERROR, 504: V1_ERROR },
      },
    },
    async (request, reply) => {
      const meta = readRequestMeta(request.headers);
      const { result, placement } = await deps.dispatch.run({ task: 'asr', bytes: readAudio(request), params: {} }, meta, clientGoneSignal(reply));
      reply.header('x-placement-tier', placement.tier);
      return { ...result, placement };
    },
  );

  const open = new Set<WebSocket>();

  app.get('/v1/asr/stream', { websocket: true }, (socket: WebSocket, request) => {
    const send = jsonSender(socket);
    const sendError = (error: unknown): EdgeError => {
      const edge = toEdgeError(error);
      let message = edge.message;
      if (edge.code === 'EDGE_ERR_INTERNAL') {
        request.log.error({ err: error }, 'speech stream failed');
        message = `internal error (request ${request.id})`;
      }
      send({ type: 'error', code: edge.code, message });
      return edge;
    };
    const refuse = (error: unknown, closeCode: number): void => {
      const edge = sendError(error);
      if (socket.readyState === socket.OPEN) socket.close(closeCode, edge.code);
    };

    let format: SampleFormat;
    try {
      format = parseStreamQuery(request.query as Record<string, unknown>);
    } catch (error) {
      refuse(error, CLOSE_POLICY);
      return;
    }
    if (open.size >= maxStreams) {
      refuse(new EdgeError('EDGE_ERR_QUEUE_FULL', `the node already serves ${maxStreams} speech streams (speech.stream.maxStreams): retry later`, { retryAfterSeconds: 1 }), CLOSE_TRY_AGAIN_LATER);
      return;
    }

    let stream: SpeechStream;
    try {
      stream = deps.speech.openStream({
        result(result: UtteranceResult) {
          send({ type: result.final ? 'final' : 'partial', ...result });
        },
        error: sendError,
      });
    } catch (error) {
      // The recogniser is not loaded (yet), or the node is closing: a 503 over HTTP.
      refuse(error, statusOf(toEdgeError(error).code) === 503 ? CLOSE_TRY_AGAIN_LATER : CLOSE_INTERNAL_ERROR);
      return;
    }
    open.add(socket);
    // After {"type":"end"} or a refusal, later messages are not audio of this stream any more.
    let ending = false;
    const release = (): void => {
      if (!open.delete(socket)) return;
      stream.close();
    };
    socket.on('close', release);
    socket.on('error', release);

    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (ending) return;
      const bytes = bytesOf(data);
      if (bytes.byteLength > MAX_MESSAGE_BYTES) {
        ending = true;
        socket.close(CLOSE_MESSAGE_TOO_BIG, `message larger than ${MAX_MESSAGE_BYTES} bytes`);
        return;
      }
      if (!isBinary) {
        try {
          checkEndMessage(bytes.toString('utf8'));
        } catch (error) {
          sendError(error);
          return;
        }
        ending = true;
        void stream.end().then(() => {
          if (socket.readyState === socket.OPEN) socket.close(CLOSE_NORMAL, 'end of stream');
        });
        return;
      }
      let samples: Float32Array;
      try {
        samples = samplesOf(bytes, format);
      } catch (error) {
        ending = true;
        refuse(error, CLOSE_INVALID_PAYLOAD);
        return;
      }
      try {
        stream.push(samples);
      } catch (error) {
        ending = true;
        refuse(error, CLOSE_TRY_AGAIN_LATER);
      }
    });
  });
}
