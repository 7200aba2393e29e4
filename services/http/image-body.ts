/**
 * Image request bodies: raw (image/jpeg, image/png, image/webp, application/octet-stream) or
 * multipart with a file field `image`. What comes out is always a Buffer: user strings never reach
 * the decoder (a string given to sharp() would be a file path).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { EdgeError } from '../core/errors.ts';
import { acceptRawBodies } from './raw-body.ts';

export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'] as const;

/** Registers the body parsers of image routes on this encapsulation context. */
export async function acceptImageBodies(app: FastifyInstance, bodyLimit: number): Promise<void> {
  acceptRawBodies(app, IMAGE_CONTENT_TYPES, bodyLimit);
  await app.register(multipart, { limits: { fileSize: bodyLimit, files: 1 } });
}

/** Errors busboy throws for broken multipart carry no code: they are the client's framing. */
function multipartError(error: unknown): unknown {
  if (error instanceof EdgeError) return error;
  const candidate = error as { code?: unknown; statusCode?: unknown };
  if (typeof candidate?.code === 'string' || typeof candidate?.statusCode === 'number') return error;
  return new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `multipart body could not be read: ${(error as Error)?.message ?? error}`);
}

export async function readImage(request: FastifyRequest, fileSizeLimit: number): Promise<Buffer> {
  if (!request.isMultipart()) {
    const body = request.body;
    if (body === undefined || body === null || (Buffer.isBuffer(body) && body.byteLength === 0)) {
      throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'send the image as the request body (or multipart field "image")');
    }
    if (!Buffer.isBuffer(body)) throw new EdgeError('EDGE_ERR_CONTENT_TYPE_UNSUPPORTED', 'the body must be an image');
    return body;
  }
  try {
    const file = await request.file({ limits: { fileSize: fileSizeLimit, files: 1, fields: 8, parts: 10, fieldSize: 64 * 1024 } });
    if (file === undefined || file.fieldname !== 'image') {
      throw new EdgeError('EDGE_ERR_MULTIPART_FIELD_MISSING', 'multipart/form-data must carry the image in a file field named "image"');
    }
    const image = await file.toBuffer();
    if (image.byteLength === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'the multipart field "image" is empty');
    return image;
  } catch (error) {
    throw multipartError(error);
  }
}
