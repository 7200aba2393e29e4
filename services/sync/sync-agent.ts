/**
 * The edge side of sync: one loop that long-polls the cloud's manifest (through whatever link lies
 * between) and, for each resource this node holds or serves at a GREATER version than it has,
 * installs it - models through model-install.ts, policies parsed, cached and swapped into the
 * holder - then acknowledges. Guarantees:
 *   - at least once: a version is persisted (state.json, fsync) before it is acknowledged; acks
 *     that could not be sent are sent again until the cloud takes them;
 *   - stale versions (<= held) are ignored; the same version with another sha256 is a conflict,
 *     ignored and reported;
 *   - a version that fails to download-verify-load is rejected (recorded, acked with its code, not
 *     tried again until a newer one) while the old version keeps serving;
 *   - link failures are not rejections: the poll is retried with backoff (retryMs..retryMaxMs).
 * Resources are applied one at a time; nothing here blocks the event loop.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, readFile, rm } from 'node:fs/promises';
import type { ModelRepository } from '../core/contracts.ts';
import { EdgeError, toEdgeError, type ErrorCode } from '../core/errors.ts';
import { parsePolicy } from '../scheduler/policy.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { installModel } from './model-install.ts';
import type { PolicyHolder } from './policy-holder.ts';
import { keyOf, parseVersion, type Manifest, type Rejection, type ResourceKind, type ResourceRef, type SyncResource } from './resources.ts';
import { cachedPolicyFile } from './startup-policy.ts';
import { SyncClient } from './sync-client.ts';
import { SyncState } from './sync-state.ts';

export type SyncAgentEvent =
  | { type: 'applied'; kind: ResourceKind; name: string; version: number }
  /** The version held at start (for the version gauge). */
  | { type: 'held'; kind: ResourceKind; name: string; version: number }
  | { type: 'rejected'; kind: ResourceKind; name: string; version: number; code: string }
  | { type: 'success'; at: number };

export interface SyncAgentOptions {
  cloudUrl: string;
  /** The sync token the cloud asks for (sync.token). */
  token?: string;
  node: string;
  cacheDir: string;
  /** The edge's model repository folder (config models.repository). */
  repositoryRoot: string;
  /** Models this node serves (config models.load): only these are synced. */
  models: readonly string[];
  registry: Pick<ModelRepository, 'load' | 'get' | 'index'>;
  policy: PolicyHolder;
  pollWaitMs: number;
  retryMs: number;
  retryMaxMs: number;
  onEvent?: (event: SyncAgentEvent) => void;
  log?: { info(message: string): void; warn(message: string): void };
}

export interface HeldVersion {
  kind: ResourceKind;
  name: string;
  version: number;
  sha256: string;
}

export interface SyncStatus {
  node: string;
  cloud: string;
  lastContact: string | null;
  lastSuccess: string | null;
  lastError: { code: string; message: string; at: string } | null;
  etag: string | null;
  held: HeldVersion[];
  pending: ResourceRef[];
  rejected: Array<Rejection & { sha256: string; at: string }>;
  conflicts: Array<ResourceRef & { held: string; published: string }>;
}

/** Failures of the way to the cloud, not of the resource: retried, never recorded as a rejection. */
const TRANSIENT: ReadonlySet<string> = new Set(['EDGE_ERR_SYNC_UNAVAILABLE', 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND', 'EDGE_ERR_SHUTTING_DOWN']);

export function defaultNodeId(port: number): string {
  return `${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'edge'}:${port}`;
}

export class SyncAgent {
  readonly #options: SyncAgentOptions;
  readonly #client: SyncClient;
  readonly #state: SyncState;
  readonly #abort = new AbortController();
  #node: string;
  #etag: string | undefined;
  #manifest: Manifest | undefined;
  #lastContact: number | undefined;
  #lastSuccess: number | undefined;
  #lastError: SyncStatus['lastError'] = null;
  /** Acks not yet taken by the cloud, latest per resource (bounded by the resources synced). */
  readonly #pendingAcks = new Map<string, { applied?: ResourceRef; rejected?: Rejection }>();
  readonly #conflicts = new Map<string, SyncStatus['conflicts'][number]>();
  #loop: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  private constructor(options: SyncAgentOptions, state: SyncState) {
    this.#options = options;
    this.#state = state;
    this.#node = options.node;
    this.#client = new SyncClient(options.cloudUrl, options.token);
  }

  static async create(options: SyncAgentOptions): Promise<SyncAgent> {
    return new SyncAgent(options, await SyncState.open(options.cacheDir));
  }

  /** Starts the loop in the background: the node serves whether or not the cloud answers. */
  start(node?: string): void {
    if (this.#loop || this.#closed) return;
    if (node !== undefined) this.#node = node;
    for (const held of this.status().held) this.#options.onEvent?.({ type: 'held', kind: held.kind, name: held.name, version: held.version });
    this.#loop = this.#run();
  }

  status(): SyncStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const held = [...this.#models().map((name) => this.#heldModel(name)), this.#heldPolicy()].filter((entry): entry is HeldVersion => entry !== undefined);
    const snapshot = this.#state.snapshot();
    return {
      node: this.#node,
      cloud: this.#options.cloudUrl,
      lastContact: iso(this.#lastContact),
      lastSuccess: iso(this.#lastSuccess),
      lastError: this.#lastError,
      etag: this.#etag ?? null,
      held,
      pending: (this.#manifest?.resources ?? []).filter((resource) => this.#wanted(resource) === 'apply').map(({ kind, name, version }) => ({ kind, name, version })),
      rejected: Object.entries(snapshot.rejected).map(([key, record]) => {
        const [kind, name] = key.split('/') as [ResourceKind, string];
        return { kind, name, version: record.version, code: record.code, message: record.message, sha256: record.sha256, at: record.at };
      }),
      conflicts: [...this.#conflicts.values()],
    };
  }

  /** Idempotent: stops polling, lets an install in progress finish, closes the client. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#abort.abort();
      await this.#loop?.catch(() => undefined);
      await this.#client.close();
    })();
    return this.#closed;
  }

  async #run(): Promise<void> {
    const { retryMs, retryMaxMs, pollWaitMs } = this.#options;
    const node = this.#node;
    let delay = retryMs;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const manifest = await this.#client.manifest(this.#etag, this.#etag === undefined ? 0 : pollWaitMs, node, signal);
        this.#lastContact = Date.now();
        this.#manifest = manifest;
        const settled = await this.#reconcile(manifest, signal);
        await this.#flushAcks(signal);
        if (!settled) throw new EdgeError('EDGE_ERR_SYNC_UNAVAILABLE', 'some resources could not be fetched; retrying');
        this.#etag = manifest.etag;
        this.#lastSuccess = Date.now();
        this.#options.onEvent?.({ type: 'success', at: this.#lastSuccess });
        delay = retryMs;
      } catch (error) {
        if (signal.aborted) break;
        const edge = toEdgeError(error);
        this.#lastError = { code: edge.code, message: edge.message, at: new Date().toISOString() };
        await sleep(delay, signal);
        delay = Math.min(delay * 2, retryMaxMs);
      }
    }
  }

  #models(): string[] {
    return [...new Set(this.#options.models)];
  }

  #heldModel(name: string): HeldVersion | undefined {
    try {
      const serving = this.#options.registry.get(name);
      const version = parseVersion(serving.version);
      return version === undefined ? undefined : { kind: 'model', name, version, sha256: serving.card.sha256 };
    } catch {
      // Not serving (it failed at start, or is not on disk): what state.json last recorded, if anything.
      const record = this.#state.held(keyOf({ kind: 'model', name }));
      return record ? { kind: 'model', name, version: record.version, sha256: record.sha256 } : undefined;
    }
  }

  #heldPolicy(): HeldVersion {
    const { policy, sha256 } = this.#options.policy.held();
    return { kind: 'policy', name: policy.metadata.name, version: policy.metadata.version, sha256 };
  }

  #held(resource: SyncResource): HeldVersion | undefined {
    return resource.kind === 'model' ? this.#heldModel(resource.name) : this.#heldPolicy();
  }

  /** What to do with a published resource: apply it, or skip it (and why). */
  #wanted(resource: SyncResource): 'apply' | 'not-ours' | 'stale' | 'conflict' | 'rejected' {
    if (resource.kind === 'model' ? !this.#options.models.includes(resource.name) : resource.name !== this.#heldPolicy().name) return 'not-ours';
    const held = this.#held(resource);
    if (held && resource.version < held.version) return 'stale';
    if (held && resource.version === held.version) return held.sha256 === resource.sha256 ? 'stale' : 'conflict';
    const rejected = this.#state.rejected(keyOf(resource));
    if (rejected && rejected.version >= resource.version) return 'rejected';
    return 'apply';
  }

  /** Applies what is newer; false when something failed on the way (retry), true when all is decided. */
  async #reconcile(manifest: Manifest, signal: AbortSignal): Promise<boolean> {
    let settled = true;
    // Policies first: they apply in milliseconds, a model reload takes its load time and grace.
    const ordered = [...manifest.resources].sort((a, b) => Number(a.kind === 'model') - Number(b.kind === 'model'));
    for (const resource of ordered) {
      if (signal.aborted) return false;
      const wanted = this.#wanted(resource);
      if (wanted === 'conflict') {
        const key = keyOf(resource);
        const held = this.#held(resource)!;
        if (this.#conflicts.get(key)?.published !== resource.sha256) {
          this.#conflicts.set(key, { kind: resource.kind, name: resource.name, version: resource.version, held: held.sha256, published: resource.sha256 });
          this.#options.log?.warn(`sync: ${key} version ${resource.version} is published with sha256 ${resource.sha256}, this node holds ${held.sha256}: ignored`);
          this.#queueAck(key, { rejected: { kind: resource.kind, name: resource.name, version: resource.version, code: 'EDGE_ERR_SYNC_VERSION_INVALID', message: 'conflict: this version is held with another sha256; publish a new version' } });
        }
        continue;
      }
      if (wanted !== 'apply') continue;
      // Taken before: during an install state.json already names the new version.
      const before = this.#held(resource);
      try {
        await this.#apply(resource, signal);
      } catch (error) {
        const edge = toEdgeError(error);
        if (TRANSIENT.has(edge.code) || signal.aborted) {
          settled = false;
          this.#lastError = { code: edge.code, message: edge.message, at: new Date().toISOString() };
          continue;
        }
        await this.#reject(resource, edge, before);
      }
    }
    return settled;
  }

  async #apply(resource: SyncResource, signal: AbortSignal): Promise<void> {
    const key = keyOf(resource);
    const base = resource.kind === 'model' ? `/v1/sync/models/${resource.name}/${resource.version}` : `/v1/sync/policies/${resource.name}/${resource.version}`;
    const download = (file: { path: string; sha256: string; bytes: number }, destination: string, mismatchCode: ErrorCode) =>
      this.#client.download(resource.kind === 'model' ? `${base}/${file.path.split('/').map(encodeURIComponent).join('/')}` : base, destination, file, mismatchCode, signal);
    if (resource.kind === 'model') {
      const result = await installModel({
        root: this.#options.repositoryRoot,
        resource,
        download,
        registry: this.#options.registry,
        persist: () => this.#state.recordHeld(key, resource.version, resource.sha256),
      });
      this.#options.log?.info(`sync: model ${resource.name} version ${resource.version} serving (was ${result.previous ?? 'none'}; removed ${result.removed.join(', ') || 'none'})`);
    } else {
      await this.#applyPolicy(resource, download);
    }
    this.#conflicts.delete(key);
    this.#queueAck(key, { applied: { kind: resource.kind, name: resource.name, version: resource.version } });
    this.#options.onEvent?.({ type: 'applied', kind: resource.kind, name: resource.name, version: resource.version });
  }

  async #applyPolicy(resource: SyncResource, download: (file: SyncResource['files'][number], destination: string, mismatchCode: ErrorCode) => Promise<void>): Promise<void> {
    const file = resource.files[0]!;
    const folder = path.join(this.#options.cacheDir, 'policies');
    await mkdir(folder, { recursive: true });
    const staging = path.join(folder, `.${resource.name}.${resource.version}.${process.pid}.${Date.now()}.download`);
    let text: string;
    try {
      await download(file, staging, 'EDGE_ERR_POLICY_INVALID');
      text = await readFile(staging, 'utf8');
    } finally {
      await rm(staging, { force: true });
    }
    const policy = parsePolicy(text, `${this.#options.cloudUrl} ${resource.name}@${resource.version}`);
    if (policy.metadata.name !== resource.name || policy.metadata.version !== resource.version) {
      throw new EdgeError('EDGE_ERR_SYNC_VERSION_INVALID', `policy published as ${resource.name}@${resource.version} says ${policy.metadata.name}@${policy.metadata.version}`);
    }
    const cached = cachedPolicyFile(this.#options.cacheDir, resource.name);
    await writeFileAtomic(cached, text);
    await this.#state.recordHeld(keyOf(resource), resource.version, resource.sha256);
    this.#options.policy.swap({ policy, sha256: resource.sha256, source: cached });
  }

  async #reject(resource: SyncResource, error: EdgeError, held: HeldVersion | undefined): Promise<void> {
    const key = keyOf(resource);
    this.#options.log?.warn(`sync: ${key} version ${resource.version} rejected (${error.code}): ${error.message}; still serving ${held?.version ?? 'nothing'}`);
    const restored = held ? { version: held.version, sha256: held.sha256, at: new Date().toISOString() } : undefined;
    await this.#state.recordRejected(key, { version: resource.version, sha256: resource.sha256, code: error.code, message: error.message.slice(0, 1024) }, restored);
    this.#queueAck(key, { rejected: { kind: resource.kind, name: resource.name, version: resource.version, code: error.code, message: error.message.slice(0, 1024) } });
    this.#options.onEvent?.({ type: 'rejected', kind: resource.kind, name: resource.name, version: resource.version, code: error.code });
  }

  #queueAck(key: string, entry: { applied?: ResourceRef; rejected?: Rejection }): void {
    this.#pendingAcks.set(key, { ...this.#pendingAcks.get(key), ...entry });
  }

  async #flushAcks(signal: AbortSignal): Promise<void> {
    if (this.#pendingAcks.size === 0) return;
    const sent = new Map(this.#pendingAcks);
    const body = {
      node: this.#node,
      applied: [...sent.values()].flatMap((entry) => (entry.applied ? [entry.applied] : [])),
      rejected: [...sent.values()].flatMap((entry) => (entry.rejected ? [entry.rejected] : [])),
    };
    await this.#client.ack(body, signal);
    // Only what was sent goes: an entry updated meanwhile is sent on the next round.
    for (const [key, entry] of sent) if (this.#pendingAcks.get(key) === entry) this.#pendingAcks.delete(key);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
