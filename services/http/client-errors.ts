/**
 * Errors Node's HTTP parser raises before fastify sees a request (request timeout = slowloris,
 * header overflow, garbage on the socket). They are answered in the /v1 body shape with our codes
 * (the URL may not even be known yet) and the socket is destroyed.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { EdgeError, type ErrorCode } from '../core/errors.ts';
import { statusOf } from './error-status.ts';
import { errorBody } from './http-errors.ts';

function codeOf(error: NodeJS.ErrnoException): ErrorCode {
  // Header overflow, bad framing, garbage: all are a malformed request to the client.
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT') return 'EDGE_ERR_REQUEST_TIMEOUT';
  return 'EDGE_ERR_REQUEST_MALFORMED';
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  EDGE_ERR_REQUEST_TIMEOUT: 'the request was not complete within the request timeout',
  EDGE_ERR_REQUEST_MALFORMED: 'the request could not be parsed as HTTP/1.1',
};

export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset socket has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = codeOf(error);
  const status = statusOf(code);
  const body = JSON.stringify(errorBody(new EdgeError(code, MESSAGES[code] ?? code), 'v1', MESSAGES[code] ?? code));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
