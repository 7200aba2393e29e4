/**
 * The cloud side of sync: the source of truth. Rescans its folders every rescanMs (and on demand),
 * keeps the manifest and its etag, refuses versions that go backwards, and answers long polls:
 * a poll whose `after` differs from the etag is answered at once, otherwise when the manifest
 * changes or its wait ends. Waiting polls are bounded; past the bound a poll is answered at once.
 */
import { createHash } from 'node:crypto';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import { FolderScanner, type ScannedResource, type ScanProblem } from './scan.ts';
import { keyOf, type Manifest, type ResourceFile, type ResourceKind, type SyncResource } from './resources.ts';

export interface SyncPublisherOptions {
  repository: string;
  policiesDir: string;
  rescanMs: number;
  /** Scan failures (a folder unreadable) are reported here; the last good manifest stays. */
  onScanError?: (error: EdgeError) => void;
}

/** Long polls waiting at once; a poll past this is answered at once (it polls again). */
export const MAX_WAITING_POLLS = 4096;
/** The longest a poll may wait. */
export const MAX_WAIT_MS = 120_000;

interface Waiter {
  after: string;
  resolve: (manifest: Manifest) => void;
  timer: NodeJS.Timeout;
}

function etagOf(resources: readonly SyncResource[]): string {
  return createHash('sha256').update(JSON.stringify(resources)).digest('hex').slice(0, 24);
}

export class SyncPublisher {
  readonly #options: SyncPublisherOptions;
  readonly #scanner: FolderScanner;
  #manifest: Manifest = { etag: etagOf([]), resources: [] };
  #byKey = new Map<string, ScannedResource>();
  #problems: ScanProblem[] = [];
  /** Highest version ever published per resource: a lower one later is refused. */
  readonly #highest = new Map<string, { version: number; sha256: string }>();
  readonly #waiters = new Set<Waiter>();
  #running: Promise<Manifest> | undefined;
  #queued: Promise<Manifest> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SyncPublisherOptions) {
    this.#options = options;
    this.#scanner = new FolderScanner(options.repository, options.policiesDir);
  }

  /** Scans once, then every rescanMs until close(). A failed scan (reported) never stops the node. */
  async start(): Promise<void> {
    try {
      await this.scan();
    } catch {
      // onScanError has it; the next scan may succeed
    } finally {
      this.#schedule();
    }
  }

  manifest(): Manifest {
    return this.#manifest;
  }

  problems(): readonly ScanProblem[] {
    return this.#problems;
  }

  /**
   * Rescans now (POST /v1/sync/publish). Scans never overlap; callers arriving while one runs share
   * the single scan queued after it, so a change made just before the call is always seen.
   */
  scan(): Promise<Manifest> {
    if (this.#queued) return this.#queued;
    const previous = this.#running ?? Promise.resolve(this.#manifest);
    const run: Promise<Manifest> = previous
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        this.#running = run;
        return this.#scanOnce();
      })
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
      });
    this.#queued = run;
    return run;
  }

  /** Answers at once if the etag differs from `after`, else on the next change or after waitMs. */
  waitForChange(after: string | undefined, waitMs: number, signal?: AbortSignal): Promise<Manifest> {
    const current = this.#manifest;
    if (after === undefined || after !== current.etag || waitMs <= 0 || this.#closed || this.#waiters.size >= MAX_WAITING_POLLS) return Promise.resolve(current);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
        resolve: (manifest) => {
          clearTimeout(waiter.timer);
          this.#waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve(manifest);
        },
        timer: setTimeout(() => waiter.resolve(this.#manifest), Math.min(waitMs, MAX_WAIT_MS)),
      };
      const onAbort = (): void => waiter.resolve(this.#manifest);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** A file the manifest lists for exactly this resource version, or EDGE_ERR_SYNC_RESOURCE_NOT_FOUND. */
  file(kind: ResourceKind, name: string, version: number, filePath: string): { absolute: string; file: ResourceFile; text: string | undefined } {
    const scanned = this.#byKey.get(keyOf({ kind, name }));
    const file = scanned?.resource.version === version ? scanned.resource.files.find((entry) => entry.path === filePath) : undefined;
    const absolute = file ? scanned?.paths.get(file.path) : undefined;
    if (!file || absolute === undefined) {
      throw new EdgeError('EDGE_ERR_SYNC_RESOURCE_NOT_FOUND', `the cloud publishes no ${kind} ${name} version ${version}${kind === 'model' ? ` with a file ${JSON.stringify(filePath.slice(0, 128))}` : ''}`, {
        details: { kind, name, version, ...(scanned ? { published: scanned.resource.version } : {}) },
      });
    }
    return { absolute, file, text: scanned?.texts.get(file.path) };
  }

  resource(kind: ResourceKind, name: string): SyncResource | undefined {
    return this.#byKey.get(keyOf({ kind, name }))?.resource;
  }

  /** Idempotent: stops rescanning and answers every waiting poll. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const waiter of [...this.#waiters]) waiter.resolve(this.#manifest);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.scan()
        .catch(() => undefined)
        .finally(() => this.#schedule());
    }, this.#options.rescanMs);
    this.#timer.unref();
  }

  async #scanOnce(): Promise<Manifest> {
    let scanned: Awaited<ReturnType<FolderScanner['scan']>>;
    try {
      scanned = await this.#scanner.scan();
    } catch (error) {
      const edge = toEdgeError(error);
      this.#options.onScanError?.(edge);
      throw edge;
    }
    const problems = [...scanned.problems];
    const byKey = new Map<string, ScannedResource>();
    for (const entry of scanned.resources) {
      const key = keyOf(entry.resource);
      const highest = this.#highest.get(key);
      if (highest && entry.resource.version < highest.version) {
        problems.push({
          kind: entry.resource.kind,
          source: entry.resource.name,
          code: 'EDGE_ERR_SYNC_VERSION_INVALID',
          message: `${key} went back from version ${highest.version} to ${entry.resource.version}: versions only grow, publish it as ${highest.version + 1}`,
        });
        continue;
      }
      this.#highest.set(key, { version: entry.resource.version, sha256: entry.resource.sha256 });
      byKey.set(key, entry);
    }
    const resources = [...byKey.values()].map((entry) => entry.resource).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const etag = etagOf(resources);
    this.#byKey = byKey;
    this.#problems = problems;
    if (etag !== this.#manifest.etag) {
      this.#manifest = { etag, resources };
      for (const waiter of [...this.#waiters]) if (waiter.after !== etag) waiter.resolve(this.#manifest);
    }
    return this.#manifest;
  }
}
