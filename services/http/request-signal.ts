/**
 * An AbortSignal that fires when the client goes away before its answer is sent, so that queued
 * inference for a client that no longer listens is dropped instead of run.
 */
import type { FastifyReply } from 'fastify';

export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}
