/**
 * mqtt.js opens plain net sockets, which Node leaves with Nagle's algorithm on. An MQTT publish is
 * written in pieces (fixed header, then payload), so the second piece waited for the broker's
 * delayed ACK: ~20-40 ms added to every frame and answer. Called on each (re)connect.
 */
import type { Duplex } from 'node:stream';

export function disableNagle(stream: Duplex): void {
  const socket = stream as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
  socket.setNoDelay?.(true);
}
