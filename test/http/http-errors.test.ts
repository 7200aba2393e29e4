/**
 * The translation of thrown values into our codes and the two body shapes, on a bare fastify
 * instance with the edge's error handler: framework codes, validation contexts, 503 Retry-After,
 * and unforeseen errors as 500 EDGE_ERR_INTERNAL without leaking their message.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { EdgeError } from '../../services/core/errors.ts';
import { errorStyleOf, sendError, toHttpEdgeError } from '../../services/http/http-errors.ts';

describe('toHttpEdgeError', () => {
  const cases: [string, unknown, string][] = [
    ['fastify body too large', Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }), 'EDGE_ERR_BODY_TOO_LARGE'],
    ['fastify unsupported media type', Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }), 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED'],
    ['fastify empty JSON body', Object.assign(new Error('x'), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }), 'EDGE_ERR_BODY_EMPTY'],
    ['fastify bad content length', Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }), 'EDGE_ERR_REQUEST_MALFORMED'],
    ['multipart file too large', Object.assign(new Error('x'), { code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 }), 'EDGE_ERR_BODY_TOO_LARGE'],
    ['query validation', Object.assign(new Error('x'), { code: 'FST_ERR_VALIDATION', validation: [], validationContext: 'querystring' }), 'EDGE_ERR_QUERY_INVALID'],
    ['params validation', Object.assign(new Error('x'), { code: 'FST_ERR_VALIDATION', validation: [], validationContext: 'params' }), 'EDGE_ERR_MODEL_NAME_INVALID'],
    ['JSON syntax from a parser', Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 }), 'EDGE_ERR_JSON_INVALID'],
    ['an unknown framework 408', Object.assign(new Error('x'), { code: 'SOMETHING', statusCode: 408 }), 'EDGE_ERR_REQUEST_TIMEOUT'],
    ['an unknown framework 4xx', Object.assign(new Error('x'), { statusCode: 418 }), 'EDGE_ERR_REQUEST_MALFORMED'],
    ['a plain Error', new Error('boom'), 'EDGE_ERR_INTERNAL'],
    ['a thrown string', 'boom', 'EDGE_ERR_INTERNAL'],
    ['an EdgeError', new EdgeError('EDGE_ERR_QUEUE_FULL', 'full'), 'EDGE_ERR_QUEUE_FULL'],
  ];
  for (const [what, thrown, code] of cases) {
    it(`${what} -> ${code}`, () => expect(toHttpEdgeError(thrown).code).toBe(code));
  }

  it('chooses the V2 body shape for /v2 and only /v2', () => {
    expect(errorStyleOf('/v2')).toBe('v2');
    expect(errorStyleOf('/v2/models/x/infer')).toBe('v2');
    expect(errorStyleOf('/v2?x=1')).toBe('v2');
    expect(errorStyleOf('/v2x')).toBe('v1');
    expect(errorStyleOf('/v1/vision/detect')).toBe('v1');
  });
});

describe('sendError on a real fastify instance', () => {
  async function appThrowing(thrown: unknown) {
    const app = Fastify({ logger: false });
    app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
    app.get('/v1/thing', async () => {
      throw thrown;
    });
    app.get('/v2/thing', async () => {
      throw thrown;
    });
    await app.ready();
    return app;
  }

  it('BAD CALL - an unforeseen error -> 500 EDGE_ERR_INTERNAL with the request id, not the internal message', async () => {
    const app = await appThrowing(new Error('secret detail at /srv/models/x'));
    const v1 = await app.inject('/v1/thing');
    expect(v1.statusCode).toBe(500);
    expect(v1.json().error.code).toBe('EDGE_ERR_INTERNAL');
    expect(v1.body).not.toContain('secret');
    expect(v1.json().error.message).toMatch(/request/);
    const v2 = await app.inject('/v2/thing');
    expect(v2.json()).toEqual({ error: expect.stringMatching(/internal error/), code: 'EDGE_ERR_INTERNAL' });
    await app.close();
  });

  it('BAD CALL - a 503 carries Retry-After, from the error or 1 s by default', async () => {
    const withHint = await appThrowing(new EdgeError('EDGE_ERR_QUEUE_FULL', 'full', { retryAfterSeconds: 2.2 }));
    const hinted = await withHint.inject('/v2/thing');
    expect(hinted.statusCode).toBe(503);
    expect(hinted.headers['retry-after']).toBe('3');
    await withHint.close();
    const plain = await appThrowing(new EdgeError('EDGE_ERR_WORKER_CRASHED', 'gone'));
    const response = await plain.inject('/v1/thing');
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toEqual({ error: { code: 'EDGE_ERR_WORKER_CRASHED', message: 'gone' } });
    await plain.close();
  });

  it('BAD CALL - details of an EdgeError reach /v1 bodies', async () => {
    const app = await appThrowing(new EdgeError('EDGE_ERR_MODEL_UNSUITABLE', 'no', { details: { model: 'emotion' } }));
    const response = await app.inject('/v1/thing');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'EDGE_ERR_MODEL_UNSUITABLE', message: 'no', details: { model: 'emotion' } } });
    await app.close();
  });
});
