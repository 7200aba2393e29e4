/**
 * Audio request bodies (POST /v1/asr): a WAV file as the raw body, delivered as a Buffer (the
 * decoder checks the bytes themselves, wav.ts). Accepted types: audio/wav, audio/x-wav, audio/wave,
 * audio/vnd.wave, application/octet-stream. Any other type is answered 415 with the audio code
 * EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED, so a client branches on one code for "this is not audio I
 * read", whether the type or the bytes said so.
 *
 * The body limit follows config: speech.maxAudioSeconds of the largest audio worth sending (48 kHz
 * stereo 32-bit) plus room for headers and metadata chunks. A longer body is refused while it
 * streams: 413 EDGE_ERR_BODY_TOO_LARGE (fastify's limit, as on every route). Audio that fits in the
 * bytes but is too long (e.g. 16 kHz mono over 30 s) is refused from its WAV header with
 * 413 EDGE_ERR_AUDIO_TOO_LONG.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { sendError, toHttpEdgeError } from './http-errors.ts';
import { acceptRawBodies } from './raw-body.ts';

export const AUDIO_CONTENT_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'application/octet-stream'] as const;

/** The largest audio the limit makes room for: 48 kHz, 2 channels, 4 bytes a sample. */
const LARGEST_BYTES_PER_SECOND = 48_000 * 2 * 4;
/** RIFF/fmt/data headers and metadata chunks (LIST, bext...) a recorder may add. */
const HEADER_ALLOWANCE_BYTES = 64 * 1024;

export function audioBodyLimit(config: Readonly<Config>): number {
  return Math.ceil(config.speech.maxAudioSeconds * LARGEST_BYTES_PER_SECOND) + HEADER_ALLOWANCE_BYTES;
}

/** Registers the audio body parsers on this encapsulation context (any other type: 415). */
export function acceptAudioBodies(app: FastifyInstance, bodyLimit: number): void {
  acceptRawBodies(app, AUDIO_CONTENT_TYPES, bodyLimit);
}

const NOT_AUDIO_MESSAGE = `send a WAV file with Content-Type ${AUDIO_CONTENT_TYPES.join(', ')}`;

/** A route's error handler: content-type refusals become the audio code; the rest as everywhere. */
export function audioRouteErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const edge = toHttpEdgeError(error);
  if (edge.code === 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED') {
    const type = request.headers['content-type'];
    return sendError(
      request,
      reply,
      new EdgeError('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', `${type === undefined ? 'no Content-Type' : `Content-Type ${type.slice(0, 100)}`} is not audio: ${NOT_AUDIO_MESSAGE}`, { cause: error }),
    );
  }
  return sendError(request, reply, edge);
}

/** The body as bytes; an empty one is EDGE_ERR_BODY_EMPTY. */
export function readAudio(request: FastifyRequest): Buffer {
  const body = request.body;
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.byteLength === 0)) {
    throw new EdgeError('EDGE_ERR_BODY_EMPTY', `the request has no body: ${NOT_AUDIO_MESSAGE}`);
  }
  if (!Buffer.isBuffer(body)) throw new EdgeError('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', NOT_AUDIO_MESSAGE);
  return body;
}
