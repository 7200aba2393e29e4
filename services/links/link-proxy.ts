/**
 * A userspace TCP proxy that emulates one network link between two tiers (toxiproxy-style, since
 * tc netem is not available): it listens on a port, forwards every connection to a target, and
 * delays, paces, stalls, refuses or resets the bytes as its settings say. Settings change at run
 * time and apply at once, to open connections too.
 *
 * Timing model per direction: a chunk is first serialised at the bandwidth (it leaves the sender
 * when the previous chunk has left and its own bytes have been clocked out), then propagates for
 * latencyMs / 2 +- jitter; it is released no earlier than the chunk before it, so bytes never
 * reorder. Timers only, never a busy wait; each direction holds at most ~HIGH_WATER_BYTES before
 * its source socket is paused (TCP flow control then slows the sender).
 */
import net, { type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EdgeError } from '../core/errors.ts';
import { validateLinkSettings, type LinkMode, type LinkSettings } from './link-settings.ts';

/** Large socket reads are cut into slices so that a capped link delivers a steady stream, not bursts. */
const SLICE_BYTES = 16 * 1024;
/** Bytes waiting in one direction above which the source is paused, and below which it resumes. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;
/** Timers fire on whole milliseconds; a chunk due within this much is released now. */
const TIMER_SLACK_MS = 1;
/** Re-listening after `down`: the port may briefly be held (e.g. by an outgoing socket's local port). */
const RELISTEN_FIRST_DELAY_MS = 20;
const RELISTEN_MAX_DELAY_MS = 500;

export interface LinkProxyOptions {
  name: string;
  /** Default 127.0.0.1. */
  listenHost?: string;
  /** 0 picks a free port once; the link keeps that port across down/up. */
  listenPort: number;
  targetHost: string;
  targetPort: number;
  /** Fields left out are those of a link that changes nothing (no delay, no cap, up). */
  settings: Partial<LinkSettings>;
}

export interface LinkStats {
  name: string;
  /** host:port the link listens on (the port stays the same while down). */
  listen: string;
  target: string;
  /** False while down, or while the port could not be taken back yet after down. */
  listening: boolean;
  settings: LinkSettings;
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Bytes delivered from client to target, and from target to client. */
  bytesUp: number;
  bytesDown: number;
  /** Connections closed because the target could not be reached. */
  refused: number;
  /** Connections reset by the `reset` mode. */
  reset: number;
}

interface PendingChunk {
  /** null: the source ended (FIN), forwarded in order after the data before it. */
  data: Buffer | null;
  arrivedAt: number;
  /** Uniform in [-1, 1]; kept so that re-timing after a settings change keeps the same draw. */
  jitterDraw: number;
  txEnd: number;
  deliverAt: number;
}

/** A socket reset if it can be (the peer sees ECONNRESET), else destroyed. */
function resetSocket(socket: Socket | undefined): void {
  if (socket === undefined || socket.destroyed) return;
  // resetAndDestroy() on a connecting socket waits for the connection first; destroy() does not.
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/** One direction of one connection: reads from source, delays and paces, writes to sink. */
class DelayedDirection {
  private readonly queue: PendingChunk[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Tail of the schedule: when the last queued chunk finishes serialising, and is released. */
  private tailTxEnd = 0;
  private tailDeliverAt = 0;
  /** When the last chunk written to the sink finished serialising: re-timing starts there. */
  private writtenTxEnd = 0;
  private held = false;
  private overHighWater = false;
  private waitingForDrain = false;
  /** undefined until the first decision: the source may have been paused before this direction existed. */
  private sourcePaused: boolean | undefined = undefined;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly settings: () => LinkSettings,
    private readonly onDelivered: (bytes: number) => void,
  ) {
    source.on('data', (chunk: Buffer) => this.accept(chunk));
    source.on('end', () => this.enqueue(null, performance.now()));
    this.updateFlow();
  }

  private accept(chunk: Buffer): void {
    const now = performance.now();
    for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
      this.enqueue(chunk.subarray(offset, offset + SLICE_BYTES), now);
    }
    if (this.queuedBytes > HIGH_WATER_BYTES) this.overHighWater = true;
    this.updateFlow();
  }

  private enqueue(data: Buffer | null, arrivedAt: number): void {
    const chunk: PendingChunk = { data, arrivedAt, jitterDraw: Math.random() * 2 - 1, txEnd: 0, deliverAt: 0 };
    this.schedule(chunk, this.settings());
    this.queue.push(chunk);
    this.queuedBytes += data?.length ?? 0;
    // Only a new head needs a timer: later chunks are due after it.
    if (this.queue.length === 1) this.pump();
  }

  private schedule(chunk: PendingChunk, settings: LinkSettings): void {
    const bytesPerMs = settings.bandwidthMbit * 125;
    const bytes = chunk.data?.length ?? 0;
    const txStart = Math.max(chunk.arrivedAt, this.tailTxEnd);
    chunk.txEnd = txStart + (Number.isFinite(bytesPerMs) ? bytes / bytesPerMs : 0);
    const propagation = Math.max(0, settings.latencyMs / 2 + chunk.jitterDraw * settings.jitterMs);
    chunk.deliverAt = Math.max(this.tailDeliverAt, chunk.txEnd + propagation);
    this.tailTxEnd = chunk.txEnd;
    this.tailDeliverAt = chunk.deliverAt;
  }

  /** New settings: chunks still queued are timed again as if the settings held since `since`. */
  retime(since: number = this.writtenTxEnd): void {
    this.tailTxEnd = since;
    this.tailDeliverAt = 0;
    const settings = this.settings();
    for (const chunk of this.queue) this.schedule(chunk, settings);
    this.pump();
  }

  /** Blackhole: nothing moves and nothing more is read; what is queued waits. */
  hold(): void {
    this.held = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.updateFlow();
  }

  /** Back up after a blackhole: what waited is sent again from now, as TCP retransmits would. */
  release(): void {
    this.held = false;
    this.updateFlow();
    this.retime(performance.now());
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held || this.waitingForDrain) return;
    const now = performance.now();
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (next.deliverAt > now + TIMER_SLACK_MS) break;
      this.queue.shift();
      if (this.sink.destroyed) {
        this.dispose();
        return;
      }
      if (next.data === null) {
        this.sink.end();
        continue;
      }
      this.queuedBytes -= next.data.length;
      this.writtenTxEnd = next.txEnd;
      this.onDelivered(next.data.length);
      if (!this.sink.write(next.data)) {
        // The receiver is slower than the link: wait for it, so our queue (bounded) takes the backlog.
        this.waitingForDrain = true;
        this.sink.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        break;
      }
    }
    this.updateFlow();
    const head = this.queue[0];
    if (head !== undefined && !this.waitingForDrain) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, Math.ceil(head.deliverAt - now)));
    }
  }

  private updateFlow(): void {
    if (this.overHighWater && this.queuedBytes < LOW_WATER_BYTES) this.overHighWater = false;
    const shouldRead = !this.held && !this.overHighWater;
    if (shouldRead && this.sourcePaused !== false) {
      this.sourcePaused = false;
      this.source.resume();
    } else if (!shouldRead && this.sourcePaused !== true) {
      this.sourcePaused = true;
      this.source.pause();
    }
  }
}

interface ConnectionContext {
  target: { host: string; port: number };
  settings: () => LinkSettings;
  delivered: (direction: 'up' | 'down', bytes: number) => void;
  refused: () => void;
  closed: (connection: LinkConnection) => void;
}

/** One client connection and its upstream connection to the target. */
class LinkConnection {
  private upstream: Socket | undefined;
  private up: DelayedDirection | undefined;
  private down: DelayedDirection | undefined;
  private finished = false;

  constructor(
    private readonly client: Socket,
    private readonly context: ConnectionContext,
  ) {
    client.setNoDelay(true);
    client.on('error', (error: NodeJS.ErrnoException) => this.failed(error, this.upstream));
    client.on('close', () => this.maybeFinished());
  }

  /** Connects to the target and starts forwarding both ways. */
  open(): void {
    if (this.upstream !== undefined || this.client.destroyed) return;
    const upstream = net.connect({ host: this.context.target.host, port: this.context.target.port, allowHalfOpen: true, noDelay: true });
    this.upstream = upstream;
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) this.context.refused();
      this.failed(error, this.client);
    });
    upstream.on('close', () => this.maybeFinished());
    this.up = new DelayedDirection(this.client, upstream, this.context.settings, (bytes) => this.context.delivered('up', bytes));
    this.down = new DelayedDirection(upstream, this.client, this.context.settings, (bytes) => this.context.delivered('down', bytes));
  }

  /** Blackhole: stall both ways; a connection not yet forwarded stays unconnected. */
  hold(): void {
    if (this.up === undefined) this.client.pause();
    this.up?.hold();
    this.down?.hold();
  }

  release(): void {
    if (this.upstream === undefined) {
      this.open();
      return;
    }
    this.up?.release();
    this.down?.release();
  }

  retime(): void {
    this.up?.retime();
    this.down?.retime();
  }

  destroy(): void {
    this.disposeDirections();
    this.client.destroy();
    this.upstream?.destroy();
  }

  reset(): void {
    this.disposeDirections();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  /** A failure on one side ends the other: a reset is passed on as a reset, anything else closes. */
  private failed(error: NodeJS.ErrnoException, other: Socket | undefined): void {
    this.disposeDirections();
    if (error.code === 'ECONNRESET') resetSocket(other);
    else other?.destroy();
    this.client.destroy();
    this.upstream?.destroy();
  }

  private disposeDirections(): void {
    this.up?.dispose();
    this.down?.dispose();
  }

  private maybeFinished(): void {
    if (this.finished || !this.client.destroyed || (this.upstream !== undefined && !this.upstream.destroyed)) return;
    this.finished = true;
    this.disposeDirections();
    this.context.closed(this);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class LinkProxy {
  readonly name: string;
  private readonly listenHost: string;
  private port: number;
  private readonly target: { host: string; port: number };
  private current: LinkSettings;
  private server: Server | undefined;
  private readonly connections = new Set<LinkConnection>();
  private started: Promise<{ port: number }> | undefined;
  private closing: Promise<void> | undefined;
  /** Listen/unlisten steps run one after another, each toward the mode in force when it runs. */
  private listeningSteps: Promise<void> = Promise.resolve();
  /** Set once start() has bound the port: only then may set() re-listen on it. */
  private portBound = false;
  private readonly counters = { accepted: 0, bytesUp: 0, bytesDown: 0, refused: 0, reset: 0 };
  private readonly context: ConnectionContext;

  constructor(options: LinkProxyOptions) {
    for (const [field, port] of [['listenPort', options.listenPort], ['targetPort', options.targetPort]] as const) {
      if (!Number.isInteger(port) || port < 0 || port > 65535 || (field === 'targetPort' && port === 0)) {
        throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `link ${options.name}: ${field} must be an integer port from ${field === 'targetPort' ? 1 : 0} to 65535, got ${String(port)}`);
      }
    }
    this.name = options.name;
    this.listenHost = options.listenHost ?? '127.0.0.1';
    this.port = options.listenPort;
    this.target = { host: options.targetHost, port: options.targetPort };
    this.current = validateLinkSettings(options.settings);
    this.context = {
      target: this.target,
      settings: () => this.current,
      delivered: (direction, bytes) => {
        if (direction === 'up') this.counters.bytesUp += bytes;
        else this.counters.bytesDown += bytes;
      },
      refused: () => {
        this.counters.refused += 1;
      },
      closed: (connection) => {
        this.connections.delete(connection);
      },
    };
  }

  /** Listens (once; later calls return the same port). A link created `down` takes its port, then lets it go. */
  start(): Promise<{ port: number }> {
    this.started ??= (async () => {
      if (this.closing !== undefined) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', `link ${this.name} was closed before it started`);
      try {
        this.server = await this.listen();
        this.portBound = true;
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `link ${this.name} cannot listen on ${this.listenHost}:${this.port} (${reason}): choose another listen port or stop what holds it`, { cause: error });
      }
      await this.reconcileListening();
      return { port: this.port };
    })();
    return this.started;
  }

  /** Applies at once, to open connections too; returns the settings now in force. */
  set(partial: Partial<LinkSettings>): LinkSettings {
    const previous = this.current;
    const next = validateLinkSettings(partial, previous);
    this.current = next;
    if (next.mode !== previous.mode) this.enterMode(next.mode, previous.mode);
    else for (const connection of this.connections) connection.retime();
    // Before the port is bound, start() applies the mode in force when it has bound it.
    if (this.portBound && this.closing === undefined) void this.reconcileListening();
    return next;
  }

  settings(): LinkSettings {
    return this.current;
  }

  /** Resolves once the listening socket matches the mode (closed while down, open otherwise). */
  settled(): Promise<void> {
    return this.listeningSteps;
  }

  stats(): LinkStats {
    return {
      name: this.name,
      listen: `${this.listenHost}:${this.port}`,
      target: `${this.target.host}:${this.target.port}`,
      listening: this.server !== undefined,
      settings: this.current,
      connections: this.connections.size,
      ...this.counters,
    };
  }

  /** Idempotent: destroys every connection and stops listening. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const connection of this.connections) connection.destroy();
      this.connections.clear();
      await this.started?.catch(() => undefined);
      await this.listeningSteps;
      const server = this.server;
      this.server = undefined;
      if (server !== undefined) await closeServer(server);
    })();
    return this.closing;
  }

  private enterMode(mode: LinkMode, previous: LinkMode): void {
    for (const connection of this.connections) {
      if (mode === 'down') connection.destroy();
      else if (mode === 'reset') connection.reset();
      else if (mode === 'blackhole') connection.hold();
      else if (previous === 'blackhole') connection.release();
    }
    if (mode === 'reset') this.counters.reset += this.connections.size;
    if (mode === 'down' || mode === 'reset') this.connections.clear();
  }

  private accept(client: Socket): void {
    this.counters.accepted += 1;
    const mode = this.current.mode;
    if (this.closing !== undefined || mode === 'down') {
      // Accepted in the instant before the listening socket closed.
      client.destroy();
      return;
    }
    if (mode === 'reset') {
      this.counters.reset += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const connection = new LinkConnection(client, this.context);
    this.connections.add(connection);
    if (mode === 'blackhole') connection.hold();
    else connection.open();
  }

  private listen(): Promise<Server> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.listenHost, port: this.port }, () => {
        server.off('error', reject);
        // After listening, errors are per connection (handled there); keep the process alive.
        server.on('error', () => undefined);
        const address = server.address();
        if (address !== null && typeof address === 'object') this.port = address.port;
        resolve(server);
      });
    });
  }

  private reconcileListening(): Promise<void> {
    this.listeningSteps = this.listeningSteps.then(() => this.matchListeningToMode());
    return this.listeningSteps;
  }

  private async matchListeningToMode(): Promise<void> {
    if (this.current.mode === 'down') {
      const server = this.server;
      this.server = undefined;
      if (server !== undefined) await closeServer(server);
      return;
    }
    let delay = RELISTEN_FIRST_DELAY_MS;
    // Retry for as long as the link should listen; `down` or close() end the loop.
    while (this.server === undefined && this.settings().mode !== 'down' && this.closing === undefined) {
      try {
        this.server = await this.listen();
      } catch {
        await sleep(delay);
        delay = Math.min(RELISTEN_MAX_DELAY_MS, delay * 2);
      }
    }
    if (this.closing !== undefined && this.server !== undefined) {
      const server = this.server;
      this.server = undefined;
      await closeServer(server);
    }
  }
}
