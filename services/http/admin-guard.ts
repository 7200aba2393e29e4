/**
 * Routes behind a shared secret. Admin routes (model load/unload change what the node serves): with
 * an admin token configured, a request must carry it as `Authorization: Bearer <token>`; without one,
 * only clients on the node itself (loopback) may administer it. The cloud's sync routes (models and
 * policies for its MEC nodes) work the same way with the sync token. This file is deliberately the one
 * place that decides who may call them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { EdgeError } from '../core/errors.ts';

function digest(value: string): Buffer {
  // Hashing first makes the comparison constant-time whatever the lengths.
  return createHash('sha256').update(value).digest();
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

interface TokenGuardErrors {
  forbidden: () => EdgeError;
  unauthorized: () => EdgeError;
}

function tokenGuard(token: string | undefined, errors: TokenGuardErrors): (request: FastifyRequest) => Promise<void> {
  const expected = token === undefined ? undefined : digest(token);
  return async (request) => {
    if (expected === undefined) {
      if (isLoopback(request.socket.remoteAddress)) return;
      throw errors.forbidden();
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1] as string), expected)) throw errors.unauthorized();
  };
}

export function adminGuard(adminToken: string | undefined): (request: FastifyRequest) => Promise<void> {
  return tokenGuard(adminToken, {
    forbidden: () => new EdgeError('EDGE_ERR_ADMIN_FORBIDDEN', 'admin routes answer loopback clients only while no admin token is configured'),
    unauthorized: () => new EdgeError('EDGE_ERR_ADMIN_UNAUTHORIZED', 'this route needs the admin token as "Authorization: Bearer <token>"'),
  });
}

/** The cloud's sync routes: the sync token (sync.token, MEC_SYNC_TOKEN), or loopback clients while none is set. */
export function syncGuard(syncToken: string | undefined): (request: FastifyRequest) => Promise<void> {
  return tokenGuard(syncToken, {
    forbidden: () =>
      new EdgeError('EDGE_ERR_SYNC_FORBIDDEN', 'sync routes answer loopback clients only while no sync token is configured: set MEC_SYNC_TOKEN (sync.token) on the cloud and its MEC nodes'),
    unauthorized: () => new EdgeError('EDGE_ERR_SYNC_UNAUTHORIZED', 'sync routes need the sync token as "Authorization: Bearer <token>" (MEC_SYNC_TOKEN on the MEC node)'),
  });
}
