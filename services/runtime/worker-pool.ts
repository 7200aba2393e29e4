/**
 * The pool of session workers. Every worker holds every wanted model; a worker that dies is
 * replaced and the replacement loads the wanted models again. The pool knows nothing of queues:
 * the runtime asks it for idle workers and hands each one run at a time.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { EdgeError } from '../core/errors.ts';
import type { WarmupInputs } from '../core/contracts.ts';
import { WORKER_CONTROL, type FromWorker, type LoadedReply, type RunMessage, type RunReply, type SessionSettings, type ToWorker } from './messages.ts';

/**
 * Compiled (dist/, `npm run build`): the worker is plain JavaScript beside this file and starts
 * directly. From TypeScript sources (tsx, vitest): a worker inherits no loader - not tsx's hooks
 * registered by `node bin/mec.js` through the API, nor (on Node 20) those of `--import tsx` in
 * execArgv, which fail with ERR_UNKNOWN_FILE_EXTENSION for a .ts entry - so it starts from a small
 * ES module that registers tsx in its own thread, then imports the real entry. The compiled path
 * exists for memory: tsx's loader costs each worker about 20 MB.
 */
const COMPILED = import.meta.url.endsWith('.js');
const WORKER_ENTRY = new URL(COMPILED ? './session-worker.js' : './session-worker.ts', import.meta.url);

/** tsx's register() API, as an absolute URL so that it resolves whatever the current directory is. */
function tsxApiUrl(): string {
  // require.resolve would pick the package's CommonJS build of the API, which cannot be import()ed.
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('tsx/package.json');
  const manifest = require(manifestPath) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(manifestPath), manifest.exports['./esm/api']!.import.default)).href;
}

const TSX_BOOTSTRAP = new URL(
  'data:text/javascript,' +
    encodeURIComponent(
      "import { workerData } from 'node:worker_threads';" +
        'const { register } = await import(workerData.tsxApi);' +
        'register();' +
        'await import(workerData.entry);',
    ),
);

/** Where a worker starts and what it is told, for the compiled or the TypeScript case. */
const WORKER_START = COMPILED
  ? { url: WORKER_ENTRY, workerData: {} }
  : { url: TSX_BOOTSTRAP, workerData: { tsxApi: tsxApiUrl(), entry: WORKER_ENTRY.href } };

export interface PoolModel {
  key: string;
  path: string;
  warmup?: WarmupInputs;
}

export interface WorkerPoolOptions {
  size: number;
  settings: SessionSettings;
  /** Linux nice value each worker gives its own thread at start (inherited by ORT's threads). */
  workerNice: number;
  /** Models every worker must hold, asked again whenever a replacement worker starts. */
  wanted: () => readonly PoolModel[];
  /** A worker gained a model (a replacement finished loading): queued work may go to it. */
  onCapacity: () => void;
}

interface Pending {
  resolve: (reply: FromWorker) => void;
  reject: (error: EdgeError) => void;
}

export class WorkerSlot {
  readonly models = new Set<string>();
  readonly pending = new Map<number, Pending>();
  readonly startedAt = Date.now();
  busy = false;
  alive = true;
  lastError: Error | undefined;

  readonly exited: Promise<void>;

  constructor(
    readonly id: number,
    readonly worker: Worker,
    /** The worker's control word (WORKER_CONTROL), read by the worker between native calls. */
    readonly control: Int32Array,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /** Asks the worker to end itself at its next safe point and wakes it if idle. */
  stop(mode: typeof WORKER_CONTROL.SHUTDOWN | typeof WORKER_CONTROL.CRASH): Promise<void> {
    if (this.alive) {
      Atomics.store(this.control, 0, mode);
      this.worker.postMessage({ type: 'exit', id: 0 } satisfies ToWorker);
    }
    return this.exited;
  }
}

/** Restarts of workers that lived less than this count as a crash loop and back off. */
const SHORT_LIFE_MS = 2_000;
const MAX_RESTART_DELAY_MS = 5_000;

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  #slots: WorkerSlot[] = [];
  #nextMessageId = 1;
  #nextWorkerId = 1;
  #shortLivedExits = 0;
  #closing = false;
  readonly #restartTimers = new Set<NodeJS.Timeout>();

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    for (let index = 0; index < options.size; index += 1) this.#slots.push(this.#spawn());
  }

  get slots(): readonly WorkerSlot[] {
    return this.#slots;
  }

  idle(): WorkerSlot[] {
    return this.#slots.filter((slot) => slot.alive && !slot.busy);
  }

  busyCount(): number {
    return this.#slots.filter((slot) => slot.alive && slot.busy).length;
  }

  /**
   * Loads a model on every live worker. Fails with the first real load error; a worker that dies
   * meanwhile does not fail the load (its replacement loads the model), unless all of them die.
   */
  async loadEverywhere(model: PoolModel): Promise<LoadedReply[]> {
    const slots = this.#slots.filter((slot) => slot.alive);
    const outcomes = await Promise.allSettled(
      slots.map(async (slot) => {
        const reply = (await this.#send(slot, { type: 'load', id: 0, key: model.key, path: model.path, settings: this.#options.settings, ...(model.warmup ? { warmup: model.warmup } : {}) })) as LoadedReply;
        slot.models.add(model.key);
        return reply;
      }),
    );
    const loaded: LoadedReply[] = [];
    let crash: EdgeError | undefined;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') loaded.push(outcome.value);
      else if ((outcome.reason as EdgeError).code === 'EDGE_ERR_WORKER_CRASHED') crash = outcome.reason as EdgeError;
      else throw outcome.reason;
    }
    if (loaded.length === 0) throw crash ?? new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', 'no worker is running');
    return loaded;
  }

  async unloadEverywhere(key: string): Promise<void> {
    const slots = this.#slots.filter((slot) => slot.alive);
    for (const slot of slots) slot.models.delete(key);
    // A worker dying now has nothing left to unload: ignore its failure.
    await Promise.allSettled(slots.map((slot) => this.#send(slot, { type: 'unload', id: 0, key })));
  }

  /** One run on an idle worker; the worker is busy until the reply (or its death). */
  async run(slot: WorkerSlot, message: Omit<RunMessage, 'type' | 'id'>, transfer: ArrayBuffer[]): Promise<RunReply> {
    if (slot.busy || !slot.alive) throw new EdgeError('EDGE_ERR_INTERNAL', `worker ${slot.id} is not idle`);
    slot.busy = true;
    try {
      return (await this.#send(slot, { type: 'run', id: 0, ...message }, transfer)) as RunReply;
    } finally {
      slot.busy = false;
    }
  }

  /**
   * Test hook: ends a worker as a crash would - its run in hand is dropped unanswered and the pool
   * replaces it. The worker exits at its next safe point: right away when idle, else as soon as the
   * native run returns (terminate() during a native run would abort the whole process).
   */
  async crashForTest(index = 0): Promise<number> {
    const slot = this.#slots[index];
    if (!slot) throw new EdgeError('EDGE_ERR_INTERNAL', `no worker at index ${index}`);
    await slot.stop(WORKER_CONTROL.CRASH);
    return slot.id;
  }

  /**
   * Answers every outstanding message with EDGE_ERR_SHUTTING_DOWN at once, then waits for the
   * workers to end themselves (a busy one after its current native run, which cannot be interrupted).
   */
  async close(): Promise<void> {
    this.#closing = true;
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    for (const slot of this.#slots) {
      for (const pending of slot.pending.values()) pending.reject(this.#deathError(slot, undefined));
      slot.pending.clear();
    }
    await Promise.all(this.#slots.map((slot) => slot.stop(WORKER_CONTROL.SHUTDOWN)));
  }

  #send(slot: WorkerSlot, message: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (!slot.alive) return Promise.reject(this.#deathError(slot, undefined));
    const id = this.#nextMessageId++;
    return new Promise<FromWorker>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...message, id }, transfer);
    });
  }

  #spawn(): WorkerSlot {
    const control = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const worker = new Worker(WORKER_START.url, {
      workerData: { ...WORKER_START.workerData, control, nice: this.#options.workerNice },
      name: `mec-session-${this.#nextWorkerId}`,
    });
    const slot = new WorkerSlot(this.#nextWorkerId++, worker, new Int32Array(control));
    worker.on('message', (reply: FromWorker) => {
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if (reply.type === 'error') pending.reject(EdgeError.fromJSON(reply.error));
      else pending.resolve(reply);
    });
    worker.on('error', (error) => {
      slot.lastError = error;
    });
    worker.on('exit', (exitCode) => this.#onExit(slot, exitCode));
    return slot;
  }

  #deathError(slot: WorkerSlot, exitCode: number | undefined): EdgeError {
    if (this.#closing) return new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the inference runtime is shutting down', { retryAfterSeconds: 1 });
    return new EdgeError('EDGE_ERR_WORKER_CRASHED', `inference worker ${slot.id} stopped (exit code ${exitCode ?? 'unknown'})${slot.lastError ? `: ${slot.lastError.message}` : ''}`, {
      details: { worker: slot.id, ...(exitCode === undefined ? {} : { exitCode }), ...(slot.lastError ? { cause: slot.lastError.message } : {}) },
      retryAfterSeconds: 1,
    });
  }

  #onExit(slot: WorkerSlot, exitCode: number): void {
    slot.alive = false;
    slot.busy = false;
    slot.models.clear();
    this.#slots = this.#slots.filter((other) => other !== slot);
    const error = this.#deathError(slot, exitCode);
    for (const pending of slot.pending.values()) pending.reject(error);
    slot.pending.clear();
    if (this.#closing) return;
    this.#shortLivedExits = Date.now() - slot.startedAt < SHORT_LIFE_MS ? this.#shortLivedExits + 1 : 0;
    const delay = this.#shortLivedExits === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.#shortLivedExits - 1));
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (!this.#closing) void this.#replace();
    }, delay);
    this.#restartTimers.add(timer);
  }

  /** A new worker that loads every wanted model, one at a time, before it takes runs of that model. */
  async #replace(): Promise<void> {
    const slot = this.#spawn();
    this.#slots.push(slot);
    for (const model of this.#options.wanted()) {
      try {
        await this.#send(slot, { type: 'load', id: 0, key: model.key, path: model.path, settings: this.#options.settings, ...(model.warmup ? { warmup: model.warmup } : {}) });
      } catch {
        continue; // died again (its own replacement takes over) or the file went bad: not servable here
      }
      const stillWanted = this.#options.wanted().some((other) => other.key === model.key);
      if (stillWanted) {
        slot.models.add(model.key);
        this.#options.onCapacity();
      } else {
        void this.#send(slot, { type: 'unload', id: 0, key: model.key }).catch(() => undefined);
      }
    }
  }
}
