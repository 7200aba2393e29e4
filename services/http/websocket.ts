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
import type { WebSocket } from 'ws';

export const CLOSE_POLICY = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
/** Results a client has not read yet; past this it is not reading and is disconnected. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

/** Sends JSON to a client while it is open and reading: one that lets MAX_UNREAD_BYTES pile up is closed (1008). */
export function jsonSender(socket: WebSocket): (message: object) => void {
  return (message) => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_UNREAD_BYTES) {
      socket.close(CLOSE_POLICY, 'results are not being read');
      return;
    }
    socket.send(JSON.stringify(message));
  };
}

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
