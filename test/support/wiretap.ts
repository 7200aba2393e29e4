/**
 * A TCP pass-through that keeps every byte it carries towards its target, so a test can ask at
 * the far side whether some bytes ever crossed (the privacy canary). It changes nothing on the way.
 */
import net from 'node:net';

export interface Wiretap {
  port: number;
  /** Bytes seen going to the target so far (all connections, in arrival order per connection). */
  seen(): Buffer;
  /** Whether `needle` appeared in any one connection's stream to the target. */
  saw(needle: Buffer): boolean;
  close(): Promise<void>;
}

export async function startWiretap(targetPort: number, targetHost = '127.0.0.1'): Promise<Wiretap> {
  const streams: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    streams.push(chunks);
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    seen: () => Buffer.concat(streams.flat()),
    saw: (needle) => streams.some((chunks) => Buffer.concat(chunks).includes(needle)),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
