/**
 * Admin-only routes: model load/unload need the admin token when one is configured, and come from
 * the node itself (loopback) when none is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../services/http/admin-guard.ts';
import { startStack, type Stack } from './helpers.ts';

const TOKEN = 'a-long-admin-token-for-tests-0123456789';

describe('admin routes with an admin token configured', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ server: { adminToken: TOKEN } });
  });
  afterAll(() => stack.close());

  const unload = (headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') =>
    stack.app.inject({ method: 'POST', url: '/v2/repository/models/int/unload', headers, remoteAddress });

  it('BAD CALL - no Authorization header -> 401 EDGE_ERR_ADMIN_UNAUTHORIZED, even from loopback; the model keeps serving', async () => {
    const response = await unload();
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('EDGE_ERR_ADMIN_UNAUTHORIZED');
    expect((await stack.app.inject('/v2/models/int/ready')).statusCode).toBe(200);
  });

  it('BAD CALL - a wrong token, or a token of another length -> 401', async () => {
    for (const authorization of [`Bearer ${TOKEN.slice(0, -1)}x`, 'Bearer short', `Basic ${TOKEN}`, TOKEN]) {
      const response = await unload({ authorization });
      expect(response.statusCode, authorization).toBe(401);
      expect(response.json().code).toBe('EDGE_ERR_ADMIN_UNAUTHORIZED');
    }
  });

  it('the right token unloads and loads, from any address', async () => {
    const authorization = `Bearer ${TOKEN}`;
    expect((await unload({ authorization }, '10.20.30.40')).statusCode).toBe(200);
    expect((await stack.app.inject('/v2/models/int/ready')).statusCode).toBe(503);
    const load = await stack.app.inject({ method: 'POST', url: '/v2/repository/models/int/load', headers: { authorization }, remoteAddress: '10.20.30.40' });
    expect(load.statusCode).toBe(200);
    expect((await stack.app.inject('/v2/models/int/ready')).statusCode).toBe(200);
  });

  it("BAD CALL - changing a camera's calibration (it decides which frames alarm) without the token -> 401; reading it stays open", async () => {
    const calibration = '/v1/streams/line-3/calibration';
    const put = await stack.app.inject({ method: 'PUT', url: calibration, payload: { surface: 'gravel' }, remoteAddress: '127.0.0.1' });
    expect(put.statusCode).toBe(401);
    expect(put.json().error.code).toBe('EDGE_ERR_ADMIN_UNAUTHORIZED');
    const remove = await stack.app.inject({ method: 'DELETE', url: calibration, headers: { authorization: 'Bearer wrong' } });
    expect(remove.statusCode).toBe(401);
    const read = await stack.app.inject({ method: 'GET', url: calibration, remoteAddress: '10.20.30.40' });
    expect(read.statusCode).toBe(404);
    expect(read.json().error.code).toBe('EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND');
  });

  it('read-only repository routes (index, stats) stay open', async () => {
    expect((await stack.app.inject({ method: 'POST', url: '/v2/repository/index', remoteAddress: '10.20.30.40' })).statusCode).toBe(200);
    expect((await stack.app.inject({ method: 'GET', url: '/v2/models/stats', remoteAddress: '10.20.30.40' })).statusCode).toBe(200);
  });
});

describe('admin routes without an admin token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it("BAD CALL - a client on another host changing a camera's calibration -> 403 EDGE_ERR_ADMIN_FORBIDDEN", async () => {
    const response = await stack.app.inject({ method: 'PUT', url: '/v1/streams/line-3/calibration', payload: { surface: 'gravel' }, remoteAddress: '192.0.2.7' });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('EDGE_ERR_ADMIN_FORBIDDEN');
  });

  it('BAD CALL - a client on another host -> 403 EDGE_ERR_ADMIN_FORBIDDEN; the model keeps serving', async () => {
    const response = await stack.app.inject({ method: 'POST', url: '/v2/repository/models/int/unload', remoteAddress: '192.0.2.7' });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('EDGE_ERR_ADMIN_FORBIDDEN');
    expect((await stack.app.inject('/v2/models/int/ready')).statusCode).toBe(200);
  });

  it('a loopback client (IPv4, IPv6, IPv4-mapped) may administer the node', async () => {
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const response = await stack.app.inject({ method: 'POST', url: '/v2/repository/models/int/load', remoteAddress });
      expect(response.statusCode, remoteAddress).toBe(200);
    }
  });

  it('isLoopback knows loopback from look-alikes', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '1.127.0.0', '::2', 'localhost', '', undefined].some(isLoopback)).toBe(false);
  });
});
