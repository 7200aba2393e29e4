/**
 * The one @fastify/websocket registration of the HTTP edge, for every WebSocket route (camera
 * frames, speech streams). Why one: each registration listens to the HTTP server's 'upgrade' event
 * and routes every upgrade through the whole router, so a second one handles each WebSocket request
 * twice (Node refuses the second with ERR_HTTP_SOCKET_ASSIGNED and a warning per connection).
 *
 * ws's maxPayload is the largest of the routes' own limits; each route checks its own message size
 * and closes with 1009 (message too big) past it, as ws itself does past maxPayload.
 */
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';

export const CLOSE_MESSAGE_TOO_BIG = 1009;

export async function acceptWebSockets(app: FastifyInstance, maxPayload: number): Promise<void> {
  await app.register(websocket, {
    options: { maxPayload },
    errorHandler(error, socket, request) {
      // ws closes the socket itself on a client's protocol fault (1009 too big, 1002 ...): a warning, not our error.
      if (String((error as { code?: unknown }).code ?? '').startsWith('WS_ERR_')) {
        request.log.warn({ code: (error as { code?: string }).code, url: request.url }, `websocket closed: ${error.message}`);
        return;
      }
      request.log.error(error);
      socket.terminate();
    },
  });
}
