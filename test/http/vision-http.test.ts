/**
 * POST /v1/vision/detect and /v1/vision/faces over the real stack: the converted models of
 * models/repository, the vision tasks (sharp), real photos from test/fixtures/images. Every bad
 * image input of reliability.md answers its status and code, and the server stays live.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGES, MODEL_REPOSITORY, startStack, type Stack } from './helpers.ts';

const photo = (name: string) => readFileSync(path.join(IMAGES, name));

/** A valid PNG header claiming width x height, with one tiny IDAT: a decompression bomb's shape. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.byteLength);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function multipart(field: string, file: Buffer, contentType = 'image/jpeg'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----edgetestboundary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="photo"\r\nContent-Type: ${contentType}\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('vision routes on the real models', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      runtime: { workers: 1 },
      models: { repository: MODEL_REPOSITORY, load: ['centernet', 'nanodet', 'blazeface', 'emotion'], defaultDetector: 'centernet' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const detect = (payload: Buffer | string, contentType = 'image/jpeg', query = '') =>
    stack.app.inject({ method: 'POST', url: `/v1/vision/detect${query}`, headers: { 'content-type': contentType }, payload });

  it('detects the dog, bicycle and truck in dog.jpg; the body has exactly the documented fields', async () => {
    const response = await detect(photo('dog.jpg'));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['detections', 'height', 'model', 'placement', 'timings', 'version', 'width']);
    expect(body).toMatchObject({ model: 'centernet', version: '1', width: 768, height: 576 });
    // A node with no other tier places everything on itself, and says so.
    expect(body.placement).toMatchObject({ tier: 'mec', model: 'centernet', reason: 'only-eligible', escalated: false, policy_version: 'default@3', data_class: 'internal', alternatives: [] });
    expect(response.headers['x-placement-tier']).toBe('mec');
    expect(Object.keys(body.timings).sort()).toEqual(['decode_ms', 'infer_ms', 'queue_ms', 'total_ms']);
    const labels = body.detections.map((d: { label: string }) => d.label);
    expect(labels).toEqual(expect.arrayContaining(['dog', 'bicycle']));
    for (const detection of body.detections) {
      expect(Object.keys(detection).sort()).toEqual(['box', 'label', 'score']);
      expect(Object.keys(detection.box).sort()).toEqual(['height', 'width', 'x', 'y']);
      expect(detection.score).toBeGreaterThan(0);
      expect(detection.score).toBeLessThanOrEqual(1);
    }
  });

  it('takes the image as multipart field "image" and honours model, threshold and max', async () => {
    const { payload, headers } = multipart('image', photo('person.jpg'));
    const response = await stack.app.inject({ method: 'POST', url: '/v1/vision/detect?model=nanodet&threshold=0.3&max=2', headers, payload });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.model).toBe('nanodet');
    expect(body.detections.length).toBeGreaterThanOrEqual(1);
    expect(body.detections.length).toBeLessThanOrEqual(2);
    for (const detection of body.detections) expect(detection.score).toBeGreaterThanOrEqual(0.3);
  });

  it('finds the astronaut\'s face with an expression distribution', async () => {
    const response = await stack.app.inject({ method: 'POST', url: '/v1/vision/faces', headers: { 'content-type': 'image/png' }, payload: photo('astronaut.png') });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['faces', 'height', 'model', 'timings', 'version', 'width']);
    expect(body.faces.length).toBeGreaterThanOrEqual(1);
    const [face] = body.faces;
    expect(Object.keys(face).sort()).toEqual(['box', 'dominant', 'expression', 'score']);
    const total = Object.values(face.expression as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 3);
    expect(Object.keys(face.expression)).toContain(face.dominant);
  });

  const dog = photo('dog.jpg');
  const astronaut = photo('astronaut.png');
  const bad: [string, Buffer | string, string, number, string][] = [
    ['an empty body', Buffer.alloc(0), 'image/jpeg', 400, 'EDGE_ERR_BODY_EMPTY'],
    ['a truncated JPEG', dog.subarray(0, Math.floor(dog.byteLength / 3)), 'image/jpeg', 422, 'EDGE_ERR_IMAGE_CORRUPT'],
    ['a truncated PNG', astronaut.subarray(0, Math.floor(astronaut.byteLength / 2)), 'image/png', 422, 'EDGE_ERR_IMAGE_CORRUPT'],
    ['SVG labelled image/jpeg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>', 'image/jpeg', 415, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
    ['GIF labelled image/png', Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'), 'image/png', 415, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
    ['TIFF labelled image/jpeg', Buffer.concat([Buffer.from('II*\0', 'latin1'), Buffer.alloc(64)]), 'image/jpeg', 415, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
    ['a file path as the body', '/etc/passwd', 'application/octet-stream', 415, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
    ['a decompression bomb PNG (100000 x 100000)', pngClaiming(100_000, 100_000), 'image/png', 413, 'EDGE_ERR_IMAGE_TOO_LARGE'],
    ['text/plain', 'hello', 'text/plain', 415, 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED'],
    ['JSON naming a file', '{"image":"/etc/passwd"}', 'application/json', 415, 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED'],
    ['image/gif', 'GIF89a', 'image/gif', 415, 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED'],
  ];
  for (const [what, payload, contentType, status, code] of bad) {
    it(`BAD CALL - ${what} -> ${status} ${code}`, async () => {
      const response = await detect(payload, contentType);
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({ error: { code, message: expect.any(String), ...(response.json().error.details ? { details: expect.anything() } : {}) } });
    });
  }

  const badQueries: [string, number, string][] = [
    ['?threshold=2', 400, 'EDGE_ERR_QUERY_INVALID'],
    ['?threshold=abc', 400, 'EDGE_ERR_QUERY_INVALID'],
    ['?threshold=NaN', 400, 'EDGE_ERR_QUERY_INVALID'],
    ['?max=0', 400, 'EDGE_ERR_QUERY_INVALID'],
    ['?max=1.5', 400, 'EDGE_ERR_QUERY_INVALID'],
    ['?model=..%2Fetc', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
    ['?model=a%00b', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
    [`?model=${'m'.repeat(256)}`, 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
    ['?model=', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
    ['?model=a%20b', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
    ['?model=nosuchmodel', 404, 'EDGE_ERR_MODEL_NOT_FOUND'],
    ['?model=emotion', 400, 'EDGE_ERR_MODEL_UNSUITABLE'],
  ];
  for (const [query, status, code] of badQueries) {
    it(`BAD CALL - detect${query.length > 40 ? `${query.slice(0, 40)}...` : query} -> ${status} ${code}`, async () => {
      const response = await detect(dog, 'image/jpeg', query);
      expect(response.statusCode).toBe(status);
      expect(response.json().error.code).toBe(code);
    });
  }

  it('BAD CALL - multipart without a field named "image" -> 400 EDGE_ERR_MULTIPART_FIELD_MISSING', async () => {
    const { payload, headers } = multipart('photo', dog);
    const response = await stack.app.inject({ method: 'POST', url: '/v1/vision/detect', headers, payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('EDGE_ERR_MULTIPART_FIELD_MISSING');
  });

  it('BAD CALL - multipart whose framing is broken -> 400 EDGE_ERR_REQUEST_MALFORMED', async () => {
    const response = await stack.app.inject({
      method: 'POST',
      url: '/v1/vision/detect',
      headers: { 'content-type': 'multipart/form-data; boundary=nothere' },
      payload: 'this is not multipart at all',
    });
    expect(response.statusCode).toBe(400);
    expect(['EDGE_ERR_REQUEST_MALFORMED', 'EDGE_ERR_MULTIPART_FIELD_MISSING']).toContain(response.json().error.code);
  });

  it('BAD CALL - multipart with a corrupt image -> 422 EDGE_ERR_IMAGE_CORRUPT', async () => {
    const { payload, headers } = multipart('image', dog.subarray(0, 2000));
    const response = await stack.app.inject({ method: 'POST', url: '/v1/vision/faces', headers, payload });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('EDGE_ERR_IMAGE_CORRUPT');
  });

  it('after all of the above the server is live and still detects', async () => {
    expect((await stack.app.inject('/v2/health/live')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/health/ready')).statusCode).toBe(200);
    expect((await detect(dog)).statusCode).toBe(200);
    const metrics = (await stack.app.inject('/metrics')).body;
    expect(metrics).toMatch(/^mec_request_phase_seconds_count\{task="detect",model="centernet",phase="decode"\} [1-9]/m);
  });
});
