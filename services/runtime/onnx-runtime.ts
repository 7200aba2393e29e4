/**
 * The inference runtime: per-model bounded priority queues in front of a pool of session workers.
 * The main thread only validates, queues, dispatches and answers; every session.run() happens on a
 * worker. A worker takes one run at a time; idle workers take work from the models in turn (round
 * robin), so one busy model cannot starve the others. Models with a variable dim 0 may batch:
 * compatible requests are joined into one run and the worker splits the outputs back.
 */
import path from 'node:path';
import type {
  BatchingOptions,
  InferOptions,
  InferResult,
  LoadModelOptions,
  ModelRuntime,
  ModelSignature,
  ModelStats,
  RuntimeUtilisation,
  Tensor,
} from '../core/contracts.ts';
import { EdgeError, cancelledError, toEdgeError } from '../core/errors.ts';
import { publishInference, publishRejection } from '../core/events.ts';
import type { RunReply, SessionSettings } from './messages.ts';
import { ModelStatsRecorder } from './model-stats.ts';
import { PriorityQueue } from './priority-queue.ts';
import { prepareForTransfer } from './tensor-types.ts';
import { validateInputs } from './validate-inputs.ts';
import { WorkerPool, type PoolModel, type WorkerSlot } from './worker-pool.ts';

export interface OnnxRuntimeOptions {
  workers: number;
  intraOpThreads: number;
  /** Linux nice value of the session threads (0 = as the main thread). */
  workerNice?: number;
  /** Run each new session once on zeros before it takes traffic (default true). */
  warmup?: boolean;
}

/** What the runtime knows of a loaded model, beyond its signature (for logs, metrics, benches). */
export interface RuntimeModelInfo {
  name: string;
  version: string;
  path: string;
  state: 'loading' | 'ready' | 'unloading';
  /** The batching actually applied (undefined: every request runs alone). */
  batching: BatchingOptions | undefined;
  /** RSS growth while its sessions were created, summed over the workers (approximate). */
  rssDeltaBytes: number;
  queued: number;
  running: number;
}

interface ModelEntry {
  readonly key: string;
  readonly options: LoadModelOptions;
  state: 'loading' | 'ready' | 'unloading';
  signature: ModelSignature | undefined;
  batching: BatchingOptions | undefined;
  readonly queue: PriorityQueue<PendingRequest>;
  running: number;
  readonly stats: ModelStatsRecorder;
  rssDeltaBytes: number;
  /** Moving average of a run's compute time, for Retry-After estimates. */
  computeMs: number;
}

interface PendingRequest {
  readonly model: ModelEntry;
  readonly inputs: Record<string, Tensor>;
  readonly outputs: string[] | undefined;
  readonly priority: number;
  readonly seq: number;
  readonly rows: number;
  /** Requests with equal keys may share a run; undefined: this one runs alone. */
  readonly batchKey: string | undefined;
  readonly arrivedNs: bigint;
  readonly arrivedMs: number;
  /** hrtime past which the request must not be started (its timeoutMs); undefined: none. */
  readonly deadlineNs: bigint | undefined;
  state: 'queued' | 'running' | 'done';
  dispatchedNs: bigint;
  queueTimer: NodeJS.Timeout | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
  cleanup: () => void;
  resolve: (result: InferResult) => void;
  reject: (error: unknown) => void;
}

function keyOf(name: string, version: string): string {
  return `${name}@${version}`;
}

function nsSince(from: bigint): number {
  return Number(process.hrtime.bigint() - from);
}

function shuttingDown(): EdgeError {
  return new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the inference runtime is shutting down', { retryAfterSeconds: 1 });
}

/** Batching applies only when every input and output can be split along a variable dim 0. */
function effectiveBatching(options: LoadModelOptions, signature: ModelSignature): BatchingOptions | undefined {
  const batching = options.batching;
  if (!batching || batching.maxBatchSize <= 1) return undefined;
  const variable = [...signature.inputs, ...signature.outputs].every((spec) => spec.dims.length > 0 && spec.dims[0] === -1);
  return variable ? { maxBatchSize: batching.maxBatchSize, maxQueueDelayMs: batching.maxQueueDelayMs } : undefined;
}

/** Requests may share a run when their inputs agree on every dim but the first, and want the same outputs. */
function batchKeyOf(inputs: Record<string, Tensor>, outputs: string[] | undefined): { key: string; rows: number } | undefined {
  const tensors = Object.entries(inputs).sort(([a], [b]) => (a < b ? -1 : 1));
  const rows = tensors[0]?.[1].dims[0];
  if (rows === undefined || tensors.some(([, tensor]) => tensor.dims[0] !== rows)) return undefined;
  const key = JSON.stringify([tensors.map(([name, tensor]) => [name, tensor.dims.slice(1)]), outputs ?? null]);
  return { key, rows };
}

function validateLoadOptions(options: LoadModelOptions): void {
  const problems: string[] = [];
  if (typeof options.name !== 'string' || options.name.length === 0) problems.push('name must be a non-empty string');
  if (typeof options.version !== 'string' || options.version.length === 0) problems.push('version must be a non-empty string');
  if (typeof options.path !== 'string' || !path.isAbsolute(options.path)) problems.push('path must be an absolute path');
  if (!Number.isInteger(options.maxQueueSize) || options.maxQueueSize < 1) problems.push('maxQueueSize must be an integer >= 1');
  if (!(options.queueTimeoutMs > 0)) problems.push('queueTimeoutMs must be > 0');
  if (options.batching && (!Number.isInteger(options.batching.maxBatchSize) || options.batching.maxBatchSize < 1 || !(options.batching.maxQueueDelayMs >= 0))) {
    problems.push('batching needs maxBatchSize >= 1 and maxQueueDelayMs >= 0');
  }
  if (problems.length > 0) {
    throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `invalid load options: ${problems.join('; ')}`, { details: { problems } });
  }
}

export class OnnxRuntime implements ModelRuntime {
  readonly #pool: WorkerPool;
  readonly #models = new Map<string, ModelEntry>();
  /** Round-robin position over the models, so idle workers serve them in turn. */
  #turn = 0;
  #seq = 0;
  #batchTimer: NodeJS.Timeout | undefined;
  #batchTimerDue = Number.POSITIVE_INFINITY;
  #closing = false;
  #closed: Promise<void> | undefined;
  #forceClose: (() => void) | undefined;
  /** Called whenever work finishes or leaves a queue: unload and close wait on it. */
  readonly #settledListeners = new Set<() => void>();

  constructor(options: OnnxRuntimeOptions) {
    const settings: SessionSettings = { intraOpThreads: options.intraOpThreads, warmup: options.warmup ?? true };
    this.#pool = new WorkerPool({
      size: options.workers,
      settings,
      workerNice: options.workerNice ?? 0,
      wanted: () => this.#wantedModels(),
      onCapacity: () => this.#pump(),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Models
  // -------------------------------------------------------------------------------------------

  async load(options: LoadModelOptions): Promise<ModelSignature> {
    if (this.#closing) throw shuttingDown();
    validateLoadOptions(options);
    const key = keyOf(options.name, options.version);
    const existing = this.#models.get(key);
    if (existing && existing.state !== 'ready') {
      throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `model ${options.name} version ${options.version} is ${existing.state}`);
    }
    const entry: ModelEntry = existing ?? {
      key,
      options,
      state: 'loading',
      signature: undefined,
      batching: undefined,
      queue: new PriorityQueue<PendingRequest>(),
      running: 0,
      stats: new ModelStatsRecorder(options.name, options.version),
      rssDeltaBytes: 0,
      computeMs: 0,
    };
    if (!existing) this.#models.set(key, entry);
    try {
      // A worker swaps a session only once the new one is created, so reloading a ready model
      // keeps it serving, and a failure leaves the old session in place.
      const replies = await this.#pool.loadEverywhere({ key, path: options.path, ...(options.warmup ? { warmup: options.warmup } : {}) });
      const signature = replies[0]!.signature;
      entry.signature = signature;
      entry.batching = effectiveBatching(options, signature);
      entry.rssDeltaBytes = replies.reduce((sum, reply) => sum + reply.rssDeltaBytes, 0);
      entry.state = 'ready';
      this.#pump();
      return signature;
    } catch (error) {
      if (!existing) {
        this.#models.delete(key);
        await this.#pool.unloadEverywhere(key);
      }
      const edge = toEdgeError(error);
      if (edge.code === 'EDGE_ERR_MODEL_LOAD_FAILED' || edge.code === 'EDGE_ERR_SHUTTING_DOWN') throw edge;
      throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `cannot load ${options.name} version ${options.version}: ${edge.message}`, {
        details: { model: options.name, version: options.version, cause: edge.code },
      });
    }
  }

  /** Stops taking requests for the model, lets its queue and runs finish, then drops its sessions. */
  async unload(name: string, version: string): Promise<void> {
    const entry = this.#lookup(name, version);
    if (entry.state === 'unloading') return this.#whenSettled(() => !this.#models.has(entry.key));
    entry.state = 'unloading';
    this.#pump();
    await this.#whenSettled(() => entry.queue.length === 0 && entry.running === 0);
    this.#models.delete(entry.key);
    await this.#pool.unloadEverywhere(entry.key);
    this.#notifySettled();
  }

  signature(name: string, version: string): ModelSignature | undefined {
    const entry = this.#models.get(keyOf(name, version));
    return entry?.state === 'ready' ? entry.signature : undefined;
  }

  stats(): ModelStats[] {
    return [...this.#models.values()].filter((entry) => entry.state !== 'loading').map((entry) => entry.stats.snapshot());
  }

  utilisation(): RuntimeUtilisation {
    let queued = 0;
    for (const entry of this.#models.values()) queued += entry.queue.length;
    return { workers: this.#pool.slots.filter((slot) => slot.alive).length, busyWorkers: this.#pool.busyCount(), queued };
  }

  loadedModels(): RuntimeModelInfo[] {
    return [...this.#models.values()].map((entry) => ({
      name: entry.options.name,
      version: entry.options.version,
      path: entry.options.path,
      state: entry.state,
      batching: entry.batching,
      rssDeltaBytes: entry.rssDeltaBytes,
      queued: entry.queue.length,
      running: entry.running,
    }));
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  /**
   * Queues a request. Input typed arrays that own their whole buffer are transferred to the worker
   * (they read as empty in the caller afterwards); others are copied.
   */
  infer(name: string, version: string, inputs: Record<string, Tensor>, options: InferOptions = {}): Promise<InferResult> {
    const arrivedNs = process.hrtime.bigint();
    if (this.#closing) {
      publishRejection({ model: name, version, code: 'EDGE_ERR_SHUTTING_DOWN', queueMs: 0 });
      return Promise.reject(shuttingDown());
    }
    let entry: ModelEntry;
    try {
      entry = this.#lookup(name, version);
      if (entry.state !== 'ready' || !entry.signature) {
        throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `model ${name} version ${version} is ${entry.state}`, { retryAfterSeconds: 1 });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const outputs = options.outputs === undefined ? undefined : [...options.outputs];
    try {
      validateInputs(name, entry.signature, inputs, outputs);
    } catch (error) {
      entry.stats.failed(nsSince(arrivedNs));
      return Promise.reject(error);
    }
    const { signal } = options;
    if (signal?.aborted) {
      const error = cancelledError(signal);
      publishRejection({ model: name, version, code: error.code, queueMs: 0 });
      return Promise.reject(error);
    }
    if (entry.queue.length >= entry.options.maxQueueSize) {
      const error = new EdgeError('EDGE_ERR_QUEUE_FULL', `model ${name} has ${entry.queue.length} requests waiting (the limit)`, {
        details: { model: name, version, maxQueueSize: entry.options.maxQueueSize },
        retryAfterSeconds: this.#retryAfterSeconds(entry),
      });
      entry.stats.failed(nsSince(arrivedNs));
      publishRejection({ model: name, version, code: error.code, queueMs: 0 });
      return Promise.reject(error);
    }

    const batch = entry.batching ? batchKeyOf(inputs, outputs) : undefined;
    const firstInput = Object.values(inputs)[0];
    return new Promise<InferResult>((resolve, reject) => {
      const request: PendingRequest = {
        model: entry,
        inputs,
        outputs,
        priority: Number.isFinite(options.priority) ? options.priority! : 0,
        seq: this.#seq++,
        rows: batch?.rows ?? (entry.signature!.inputs[0]?.dims[0] === -1 ? (firstInput?.dims[0] ?? 1) : 1),
        batchKey: batch?.key,
        arrivedNs,
        arrivedMs: Date.now(),
        deadlineNs: options.timeoutMs === undefined ? undefined : arrivedNs + BigInt(Math.round(Math.max(0, options.timeoutMs) * 1e6)),
        state: 'queued',
        dispatchedNs: 0n,
        queueTimer: undefined,
        deadlineTimer: undefined,
        cleanup: () => undefined,
        resolve,
        reject,
      };
      request.queueTimer = setTimeout(() => {
        if (request.state !== 'queued') return;
        this.#rejectQueued(request, new EdgeError('EDGE_ERR_QUEUE_TIMEOUT', `request waited ${entry.options.queueTimeoutMs} ms for a worker`, {
          details: { model: name, version, queueTimeoutMs: entry.options.queueTimeoutMs },
          retryAfterSeconds: this.#retryAfterSeconds(entry),
        }));
      }, entry.options.queueTimeoutMs);
      if (options.timeoutMs !== undefined) {
        const timeoutMs = Math.max(0, options.timeoutMs);
        request.deadlineTimer = setTimeout(() => {
          const details = { model: name, version, timeoutMs };
          if (request.state === 'queued') {
            this.#rejectQueued(request, new EdgeError('EDGE_ERR_QUEUE_TIMEOUT', `deadline of ${timeoutMs} ms passed while queued`, {
              details,
              retryAfterSeconds: this.#retryAfterSeconds(entry),
            }));
          } else if (request.state === 'running') {
            // The run cannot be stopped; its result will be dropped.
            this.#finish(request, new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', `deadline of ${timeoutMs} ms passed during inference`, { details }));
          }
        }, timeoutMs);
      }
      if (signal) {
        const onAbort = (): void => {
          const error = cancelledError(signal);
          if (request.state === 'queued') this.#rejectQueued(request, error);
          else if (request.state === 'running') this.#finish(request, error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        request.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      entry.queue.push(request);
      this.#pump();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown
  // -------------------------------------------------------------------------------------------

  close(options: { force?: boolean } = {}): Promise<void> {
    this.#closing = true;
    if (!this.#closed) {
      this.#closed = (async () => {
        await new Promise<void>((resolve) => {
          this.#forceClose = resolve;
          this.#pump(); // batches no longer wait for company
          void this.#whenSettled(() => this.#totalWork() === 0).then(resolve);
        });
        this.#failAllQueued();
        clearTimeout(this.#batchTimer);
        await this.#pool.close();
      })();
    }
    if (options.force) this.#forceClose?.();
    return this.#closed;
  }

  /**
   * Test hook: ends worker `index` as a crash would (its run in hand fails with
   * EDGE_ERR_WORKER_CRASHED, a replacement loads every model); resolves with the worker's id once
   * it is gone. It exits at its next safe point, since terminate() during a native onnxruntime run
   * aborts the process.
   */
  __terminateWorkerForTest(index = 0): Promise<number> {
    return this.#pool.crashForTest(index);
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  #lookup(name: string, version: string): ModelEntry {
    const entry = this.#models.get(keyOf(name, version));
    if (entry) return entry;
    const known = [...this.#models.values()].some((other) => other.options.name === name);
    if (known) throw new EdgeError('EDGE_ERR_MODEL_VERSION_NOT_FOUND', `model ${name} has no loaded version ${version}`, { details: { model: name, version } });
    throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `model ${name} is not loaded`, { details: { model: name } });
  }

  #wantedModels(): PoolModel[] {
    return [...this.#models.values()].map((entry) => ({ key: entry.key, path: entry.options.path, ...(entry.options.warmup ? { warmup: entry.options.warmup } : {}) }));
  }

  #totalWork(): number {
    let work = 0;
    for (const entry of this.#models.values()) work += entry.queue.length + entry.running;
    return work;
  }

  #whenSettled(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        this.#settledListeners.delete(check);
        resolve();
      };
      this.#settledListeners.add(check);
    });
  }

  #notifySettled(): void {
    for (const listener of [...this.#settledListeners]) listener();
  }

  #retryAfterSeconds(entry: ModelEntry): number {
    const workers = Math.max(1, this.#pool.slots.length);
    const seconds = ((entry.queue.length + 1) * Math.max(entry.computeMs, 1)) / workers / 1000;
    return Math.min(30, Math.max(1, Math.ceil(seconds)));
  }

  #failAllQueued(): void {
    for (const entry of this.#models.values()) {
      for (const request of entry.queue.drain()) this.#rejectQueued(request, shuttingDown());
    }
  }

  #rejectQueued(request: PendingRequest, error: unknown): void {
    request.model.queue.remove(request);
    const model = request.model.options;
    publishRejection({ model: model.name, version: model.version, code: toEdgeError(error).code, queueMs: nsSince(request.arrivedNs) / 1e6 });
    this.#finish(request, error);
    this.#notifySettled();
  }

  /** Settles a request once: later outcomes (a run finishing after a deadline) are ignored. */
  #finish(request: PendingRequest, error: unknown, result?: InferResult): void {
    if (request.state === 'done') return;
    request.state = 'done';
    clearTimeout(request.queueTimer);
    clearTimeout(request.deadlineTimer);
    request.cleanup();
    if (error === undefined && result) {
      request.model.stats.succeeded(nsSince(request.arrivedNs), request.rows);
      request.resolve(result);
    } else {
      request.model.stats.failed(nsSince(request.arrivedNs));
      request.reject(error);
    }
  }

  /** Hands queued work to idle workers: models in turn, batches formed where allowed. */
  #pump(): void {
    const idle = this.#pool.idle();
    if (idle.length === 0) return;
    const entries = [...this.#models.values()];
    if (entries.length === 0) return;
    const nowMs = Date.now();
    let nextDue = Number.POSITIVE_INFINITY;
    this.#dropExpired(entries);
    for (const slot of idle) {
      let dispatched = false;
      for (let step = 0; step < entries.length && !dispatched; step += 1) {
        const index = (this.#turn + step) % entries.length;
        const entry = entries[index]!;
        if (entry.queue.length === 0 || !slot.models.has(entry.key)) continue;
        const batching = entry.batching;
        // Wait a little for company, unless the batch is full or nobody new may come.
        if (batching && entry.state === 'ready' && !this.#closing && entry.queue.length < batching.maxBatchSize) {
          const oldest = Math.min(...entry.queue.items().map((request) => request.arrivedMs));
          const due = oldest + batching.maxQueueDelayMs;
          if (due > nowMs) {
            nextDue = Math.min(nextDue, due);
            continue;
          }
        }
        this.#turn = (index + 1) % entries.length;
        this.#dispatch(slot, entry, this.#takeBatch(entry));
        dispatched = true;
      }
    }
    this.#scheduleBatchTimer(nextDue, nowMs);
  }

  /** Work whose deadline passed is never started, even if its deadline timer is still pending. */
  #dropExpired(entries: readonly ModelEntry[]): void {
    const nowNs = process.hrtime.bigint();
    for (const entry of entries) {
      for (const request of entry.queue.takeExpired(nowNs)) {
        const timeoutMs = Math.round(Number(request.deadlineNs! - request.arrivedNs) / 1e6);
        this.#rejectQueued(request, new EdgeError('EDGE_ERR_QUEUE_TIMEOUT', `deadline of ${timeoutMs} ms passed while queued`, {
          details: { model: entry.options.name, version: entry.options.version, timeoutMs },
          retryAfterSeconds: this.#retryAfterSeconds(entry),
        }));
      }
    }
  }

  #scheduleBatchTimer(due: number, nowMs: number): void {
    if (!Number.isFinite(due) || due >= this.#batchTimerDue) return;
    clearTimeout(this.#batchTimer);
    this.#batchTimerDue = due;
    this.#batchTimer = setTimeout(() => {
      this.#batchTimerDue = Number.POSITIVE_INFINITY;
      this.#pump();
    }, Math.max(0, due - nowMs));
  }

  /** The head of the queue plus the compatible requests behind it, up to maxBatchSize rows. */
  #takeBatch(entry: ModelEntry): PendingRequest[] {
    const head = entry.queue.peek()!;
    if (!entry.batching || head.batchKey === undefined) {
      entry.queue.remove(head);
      return [head];
    }
    let rows = 0;
    return entry.queue.takeWhere((request) => {
      if (request !== head && (request.batchKey !== head.batchKey || rows + request.rows > entry.batching!.maxBatchSize)) return false;
      rows += request.rows;
      return true;
    });
  }

  #dispatch(slot: WorkerSlot, entry: ModelEntry, requests: PendingRequest[]): void {
    const startNs = process.hrtime.bigint();
    const transfer = new Set<ArrayBuffer>();
    const payload = requests.map((request) => {
      request.state = 'running';
      request.dispatchedNs = startNs;
      clearTimeout(request.queueTimer); // the queue timeout no longer applies; the deadline still does
      entry.stats.queued(Number(startNs - request.arrivedNs));
      const inputs: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(request.inputs)) inputs[name] = prepareForTransfer(tensor, transfer);
      return inputs;
    });
    entry.running += 1;
    const run = this.#pool.run(slot, { key: entry.key, requests: payload, outputs: requests[0]!.outputs }, [...transfer]);
    run.then(
      (reply) => this.#completed(entry, requests, reply),
      (error: unknown) => this.#failed(entry, requests, toEdgeError(error)),
    ).finally(() => {
      entry.running -= 1;
      this.#notifySettled();
      this.#pump();
    });
  }

  #completed(entry: ModelEntry, requests: PendingRequest[], reply: RunReply): void {
    const { timings } = reply;
    entry.stats.executed();
    const computeMs = (timings.inputNs + timings.inferNs + timings.outputNs) / 1e6;
    entry.computeMs = entry.computeMs === 0 ? computeMs : entry.computeMs * 0.8 + computeMs * 0.2;
    requests.forEach((request, index) => {
      const queueMs = Number(request.dispatchedNs - request.arrivedNs) / 1e6;
      entry.stats.computed(timings);
      publishInference({
        model: entry.options.name,
        version: entry.options.version,
        ok: true,
        batchSize: requests.length,
        queueMs,
        inputMs: timings.inputNs / 1e6,
        inferMs: timings.inferNs / 1e6,
        outputMs: timings.outputNs / 1e6,
      });
      const outputs = reply.results[index]!;
      this.#finish(request, undefined, {
        outputs,
        timings: { queue_ms: queueMs, infer_ms: timings.inferNs / 1e6 },
        batchSize: requests.length,
      });
    });
  }

  #failed(entry: ModelEntry, requests: PendingRequest[], error: EdgeError): void {
    for (const request of requests) {
      publishInference({
        model: entry.options.name,
        version: entry.options.version,
        ok: false,
        code: error.code,
        batchSize: requests.length,
        queueMs: Number(request.dispatchedNs - request.arrivedNs) / 1e6,
        inputMs: 0,
        inferMs: 0,
        outputMs: 0,
      });
      this.#finish(request, error);
    }
  }
}
