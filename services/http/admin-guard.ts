/**
 * Admin-only routes (model load/unload change what the node serves). With an admin token configured,
 * a request must carry it as `Authorization: Bearer <token>`; without one, only clients on the node
 * itself (loopback) may administer it. Tenants' credentials come with a later capability; this guard
 * is deliberately the one place that decides who is an admin.
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

export function adminGuard(adminToken: string | undefined): (request: FastifyRequest) => Promise<void> {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return async (request) => {
    if (expected === undefined) {
      if (isLoopback(request.socket.remoteAddress)) return;
      throw new EdgeError('EDGE_ERR_ADMIN_FORBIDDEN', 'admin routes answer loopback clients only while no admin token is configured');
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1] as string), expected)) {
      throw new EdgeError('EDGE_ERR_ADMIN_UNAUTHORIZED', 'this route needs the admin token as "Authorization: Bearer <token>"');
    }
  };
}
