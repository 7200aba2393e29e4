/**
 * The model repository: model folders on disk (<root>/<name>/card.json + the ONNX file the card
 * names), the versions loaded into the runtime, and load/unload/reload. A reload loads the new
 * version first and only then drops the old one, so a failed reload leaves the old version serving.
 * Loads and unloads of one model run one after another; different models proceed independently.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type {
  BatchingOptions,
  InferOptions,
  InferResult,
  LoadedModel,
  ModelCard,
  ModelRepository,
  ModelRuntime,
  ModelSignature,
  RepositoryEntry,
  Tensor,
} from '../core/contracts.ts';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import { checkCardAgainstSignature, parseModelCard } from './model-card.ts';
import { verifyModelFile } from './model-file.ts';
import { assertModelName, assertModelVersion, isValidModelName } from './model-name.ts';

export interface ModelRegistryOptions {
  /** Folder of model folders. */
  root: string;
  runtime: ModelRuntime;
  /** Per-model queue settings handed to the runtime. */
  maxQueueSize: number;
  queueTimeoutMs: number;
  /** Applied to models whose dim 0 is variable; maxBatchSize 1 = off. */
  batching?: BatchingOptions;
  /**
   * After a reload swaps versions, the replaced one keeps answering requests that name it for this
   * long before it is dropped (load() resolves after that). A task looks the version up, admits and
   * decodes the image, then infers with that version: without the grace, a request caught by the
   * swap fails with EDGE_ERR_MODEL_VERSION_NOT_FOUND (bench:reload measured it). Default 1000 ms,
   * at most queueTimeoutMs; 0 drops the old version at once.
   */
  retireGraceMs?: number;
  /**
   * After the grace, a replaced version still held by requests (hold()) is kept until they let go,
   * for at most this long (then dropped: their next run fails). Default 60 s: a long transcription
   * runs the model once per speech segment, seconds apart.
   */
  retireMaxHoldMs?: number;
}

/** What the last scan of the disk found in one folder. */
interface DiskEntry {
  name: string;
  version: string;
  problem: string | undefined;
}

interface ServingVersion {
  version: string;
  card: ModelCard;
  signature: ModelSignature;
}

interface ModelState {
  serving: ServingVersion | undefined;
  loading: boolean;
  /** Why the model is not (or not in its newest version) serving: the last failure or "unloaded". */
  reason: string | undefined;
  /** Serialises load/unload of this model. */
  queue: Promise<unknown>;
  /** The version a reload replaced, answering requests that name it during the grace. */
  retiring: ServingVersion | undefined;
}

const CARD_FILE = 'card.json';
const DEFAULT_RETIRE_GRACE_MS = 1000;
const DEFAULT_RETIRE_MAX_HOLD_MS = 60_000;

export class ModelRegistry implements ModelRepository {
  readonly #options: ModelRegistryOptions;
  readonly #runtime: ModelRuntime;
  #disk = new Map<string, DiskEntry>();
  readonly #models = new Map<string, ModelState>();
  #closing = false;
  /** Wakes the reload graces in progress (close() ends them). */
  readonly #graces = new Set<() => void>();
  /** Requests holding a version ("name@version" -> how many): a retire waits for them. */
  readonly #holds = new Map<string, number>();
  /** Wakes the retires waiting for holds (on each release, and at close()). */
  readonly #holdWaits = new Set<() => void>();

  constructor(options: ModelRegistryOptions) {
    this.#options = options;
    this.#runtime = options.runtime;
  }

  /** Re-reads the model folders and their cards (not the ONNX files); index() reflects the result. */
  async refresh(): Promise<void> {
    const disk = new Map<string, DiskEntry>();
    let folders: Dirent[];
    try {
      folders = await readdir(this.#options.root, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      folders = [];
    }
    for (const folder of folders) {
      if (!folder.isDirectory() || !isValidModelName(folder.name)) continue;
      try {
        const card = await this.#readCard(folder.name);
        disk.set(folder.name, { name: folder.name, version: card.version, problem: undefined });
      } catch (error) {
        disk.set(folder.name, { name: folder.name, version: '', problem: toEdgeError(error).message });
      }
    }
    this.#disk = disk;
  }

  index(): RepositoryEntry[] {
    const names = new Set([...this.#disk.keys(), ...this.#models.keys()]);
    return [...names].sort().map((name) => {
      const model = this.#models.get(name);
      const disk = this.#disk.get(name);
      if (model?.serving) {
        const entry: RepositoryEntry = { name, version: model.serving.version, state: 'READY' };
        return model.reason ? { ...entry, reason: model.reason } : entry;
      }
      if (model?.loading) return { name, version: disk?.version ?? '', state: 'LOADING' };
      return { name, version: disk?.version ?? '', state: 'UNAVAILABLE', reason: model?.reason ?? disk?.problem ?? 'not loaded' };
    });
  }

  get(name: string, version?: string): LoadedModel & { version: string } {
    assertModelName(name);
    if (version !== undefined) assertModelVersion(version);
    const state = this.#models.get(name);
    const serving = state?.serving;
    if (!serving) {
      if (this.#disk.has(name) || this.#models.has(name)) {
        throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `model ${name} is not loaded`, { details: { model: name }, retryAfterSeconds: 5 });
      }
      throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no model named ${name}`, { details: { model: name } });
    }
    if (version !== undefined && version !== serving.version) {
      const retired = state?.retiring;
      if (retired?.version === version) return { card: retired.card, signature: retired.signature, version: retired.version };
      throw new EdgeError('EDGE_ERR_MODEL_VERSION_NOT_FOUND', `model ${name} serves version ${serving.version}, not ${version}`, {
        details: { model: name, version, serving: serving.version },
      });
    }
    return { card: serving.card, signature: serving.signature, version: serving.version };
  }

  isReady(name: string, version?: string): boolean {
    try {
      this.get(name, version);
      return true;
    } catch {
      return false;
    }
  }

  async load(name: string): Promise<void> {
    assertModelName(name);
    return this.#serialised(name, () => this.#load(name));
  }

  async unload(name: string): Promise<void> {
    assertModelName(name);
    return this.#serialised(name, () => this.#unload(name));
  }

  async infer(name: string, version: string | undefined, inputs: Record<string, Tensor>, options?: InferOptions): Promise<InferResult & { version: string }> {
    if (this.#closing) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the model repository is shutting down', { retryAfterSeconds: 1 });
    const model = this.get(name, version);
    const result = await this.#runtime.infer(name, model.version, inputs, options);
    return { ...result, version: model.version };
  }

  /** Stops taking requests and closes the runtime (graceful: drains it; forced: fails its queue). */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.#closing = true;
    // Graces end now: the runtime drops every version it holds.
    for (const wake of this.#graces) wake();
    for (const wake of this.#holdWaits) wake();
    await this.#runtime.close(options);
  }

  /** Loads several models one after another; failures are reported, not thrown (index() keeps the reason). */
  async loadAll(names: readonly string[]): Promise<Array<{ name: string; ok: boolean; code?: string; message?: string }>> {
    const outcomes: Array<{ name: string; ok: boolean; code?: string; message?: string }> = [];
    for (const name of names) {
      try {
        await this.load(name);
        outcomes.push({ name, ok: true });
      } catch (error) {
        const edge = toEdgeError(error);
        outcomes.push({ name, ok: false, code: edge.code, message: edge.message });
      }
    }
    return outcomes;
  }

  #state(name: string): ModelState {
    let state = this.#models.get(name);
    if (!state) {
      state = { serving: undefined, loading: false, reason: undefined, queue: Promise.resolve(), retiring: undefined };
      this.#models.set(name, state);
    }
    return state;
  }

  #serialised(name: string, task: () => Promise<void>): Promise<void> {
    const state = this.#state(name);
    const run = state.queue.then(task, task);
    state.queue = run.catch(() => undefined);
    return run;
  }

  async #readCard(name: string): Promise<ModelCard> {
    let text: string;
    try {
      text = await readFile(path.join(this.#options.root, name, CARD_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no model named ${name} in the repository`, { details: { model: name } });
      }
      throw error;
    }
    return parseModelCard(name, text);
  }

  async #load(name: string): Promise<void> {
    if (this.#closing) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the model repository is shutting down', { retryAfterSeconds: 1 });
    const state = this.#state(name);
    state.loading = true;
    try {
      const card = await this.#readCard(name);
      const file = await verifyModelFile(path.join(this.#options.root, name), card);
      const previous = state.serving;
      if (previous && previous.version === card.version && previous.card.sha256 === card.sha256) {
        state.reason = undefined;
        return; // already serving exactly this
      }
      const signature = await this.#runtime.load({
        name,
        version: card.version,
        path: file,
        maxQueueSize: this.#options.maxQueueSize,
        queueTimeoutMs: this.#options.queueTimeoutMs,
        ...(card.warmup ? { warmup: Object.fromEntries(Object.entries(card.warmup).map(([input, { shape, value }]) => [input, { dims: shape, ...(value === undefined ? {} : { value }) }])) } : {}),
        ...(this.#options.batching && this.#options.batching.maxBatchSize > 1 ? { batching: this.#options.batching } : {}),
      });
      try {
        checkCardAgainstSignature(card, signature);
      } catch (error) {
        if (previous?.version !== card.version) await this.#runtime.unload(name, card.version);
        throw error;
      }
      state.serving = { version: card.version, card, signature };
      state.reason = undefined;
      // Only now retire the old version; requests already queued on it finish first.
      if (previous && previous.version !== card.version) await this.#retire(name, state, previous);
    } catch (error) {
      const edge = toEdgeError(error);
      state.reason = state.serving ? `reload failed, still serving ${state.serving.version}: ${edge.message}` : edge.message;
      // A name that is not on disk leaves no trace (index() lists what exists).
      if (edge.code === 'EDGE_ERR_MODEL_NOT_FOUND' && !state.serving) this.#models.delete(name);
      throw edge;
    } finally {
      state.loading = false;
      await this.refresh().catch(() => undefined);
    }
  }

  async #unload(name: string): Promise<void> {
    const state = this.#state(name);
    const serving = state.serving;
    if (!serving) {
      await this.refresh();
      if (!this.#disk.has(name)) {
        this.#models.delete(name);
        throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no model named ${name}`, { details: { model: name } });
      }
      return;
    }
    state.serving = undefined; // new requests are refused from here on
    state.reason = 'unloaded';
    await this.#runtime.unload(name, serving.version);
  }

  hold(name: string, version: string): () => void {
    const key = `${name}@${version}`;
    this.#holds.set(key, (this.#holds.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#holds.get(key) ?? 1) - 1;
      if (left > 0) {
        this.#holds.set(key, left);
        return;
      }
      this.#holds.delete(key);
      for (const wake of this.#holdWaits) wake();
    };
  }

  /**
   * Lets `previous` answer requests that already name it for the grace, and after it for as long as
   * requests hold it (at most retireMaxHoldMs), then drops it.
   */
  async #retire(name: string, state: ModelState, previous: ServingVersion): Promise<void> {
    const graceMs = Math.min(this.#options.retireGraceMs ?? DEFAULT_RETIRE_GRACE_MS, this.#options.queueTimeoutMs);
    const key = `${name}@${previous.version}`;
    if ((graceMs > 0 || this.#holds.has(key)) && !this.#closing) {
      state.retiring = previous;
      if (graceMs > 0) await this.#sleep(graceMs, this.#graces);
      const holdUntil = performance.now() + (this.#options.retireMaxHoldMs ?? DEFAULT_RETIRE_MAX_HOLD_MS);
      while (this.#holds.has(key) && !this.#closing && performance.now() < holdUntil) {
        await this.#sleep(holdUntil - performance.now(), this.#holdWaits);
      }
      state.retiring = undefined;
    }
    await this.#runtime.unload(name, previous.version);
  }

  /** Resolves after `ms`, or earlier when a waker in `wakers` is called. */
  #sleep(ms: number, wakers: Set<() => void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }
}
