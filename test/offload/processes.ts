/**
 * Processes for the job fault scenarios: `mec serve` with offload on (a config file of the test's
 * own), `mec worker` that can be SIGKILLed and restarted, and a client that submits a stream of
 * jobs with idempotency keys and retries refused submissions, recording what was acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';

export async function startJobsNode(redisUrl: string, prefix: string, offload: Record<string, unknown> = {}): Promise<NodeProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mec-jobs-node-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ runtime: { workers: 1 }, offload: { commandTimeoutMs: 400, ...offload } }));
  return startNodeProcess(['--port', '0', '--models', 'defect', '--no-mqtt', '--log-level', 'error', '--redis', redisUrl, '--jobs-prefix', prefix, '--config', file]);
}

export interface WorkerProcess {
  child: ChildProcess;
  kill(): Promise<void>;
}

export async function startWorkerProcess(nodeUrl: string, redisUrl: string, prefix: string, options: { concurrency?: number; lockMs?: number } = {}): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'bin/mec.js'), 'worker', '--node', nodeUrl, '--redis', redisUrl, '--prefix', prefix, '--concurrency', String(options.concurrency ?? 2), '--lock-ms', String(options.lockMs ?? 1000)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mec worker did not start within 60 s: ${stderr}`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('Job worker running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mec worker exited with ${code}: ${stderr}`));
    });
  });
  return {
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Submitted {
  key: string;
  id: string;
  /** The payload deserves a 4xx (a corrupt image): failed with that code is its correct end. */
  corrupt: boolean;
}

export interface StreamStats {
  accepted: Submitted[];
  /** Latency of every refused (non-202) submission, ms, with its status. */
  refusals: { at: number; ms: number; status: number; code: string }[];
}

/**
 * Submits `count` jobs, `every` ms apart, each with its own idempotency key; a refused submission
 * is retried with the same key until acknowledged (202) or `giveUpAt`.
 */
export async function submitStream(nodeUrl: string, count: number, every: number, frames: Buffer[], options: { corruptEvery?: number; stop?: () => boolean } = {}): Promise<StreamStats> {
  const stats: StreamStats = { accepted: [], refusals: [] };
  const run = async (index: number) => {
    const corrupt = options.corruptEvery !== undefined && index % options.corruptEvery === options.corruptEvery - 1;
    const body = corrupt ? Buffer.from(`not an image ${index}`) : frames[index % frames.length]!;
    const key = `stream-${index}`;
    for (;;) {
      const started = performance.now();
      const at = Date.now();
      try {
        const response = await fetch(`${nodeUrl}/v1/jobs?task=inspect&surface=brick`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'image/jpeg', 'idempotency-key': key },
          signal: AbortSignal.timeout(5_000),
        });
        const answer = (await response.json()) as { id?: string; error?: { code: string } };
        if (response.status === 202) {
          stats.accepted.push({ key, id: answer.id!, corrupt });
          return;
        }
        stats.refusals.push({ at, ms: performance.now() - started, status: response.status, code: answer.error?.code ?? '' });
      } catch (error) {
        stats.refusals.push({ at, ms: performance.now() - started, status: 0, code: (error as Error).name });
      }
      if (options.stop?.()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const pending: Promise<void>[] = [];
  for (let index = 0; index < count; index += 1) {
    if (options.stop?.()) break;
    pending.push(run(index));
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  await Promise.all(pending);
  return stats;
}

export interface JobOutcome {
  id: string;
  state: string;
  executions: number;
  attempts: number;
  error?: { code: string };
}

/** Polls every accepted job until all are finished or `timeoutMs` passes; answers their last views. */
export async function awaitOutcomes(nodeUrl: string, accepted: readonly Submitted[], timeoutMs: number): Promise<Map<string, JobOutcome>> {
  const outcomes = new Map<string, JobOutcome>();
  const until = Date.now() + timeoutMs;
  let open = [...accepted];
  while (open.length > 0 && Date.now() < until) {
    const still: Submitted[] = [];
    for (let i = 0; i < open.length; i += 16) {
      const batch = open.slice(i, i + 16);
      await Promise.all(
        batch.map(async (job) => {
          try {
            const response = await fetch(`${nodeUrl}/v1/jobs/${job.id}`, { signal: AbortSignal.timeout(3_000) });
            if (response.status === 200) {
              const view = (await response.json()) as JobOutcome;
              outcomes.set(job.id, view);
              if (view.state === 'completed' || view.state === 'failed') return;
            }
          } catch {
            // not yet
          }
          still.push(job);
        }),
      );
    }
    open = still;
    if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return outcomes;
}

/** Jepsen-style check: an acknowledged job must end completed, or failed with a 4xx code its payload deserves. */
export function judge(accepted: readonly Submitted[], outcomes: Map<string, JobOutcome>) {
  let lost = 0;
  let duplicates = 0;
  let completed = 0;
  const lostIds: string[] = [];
  for (const job of accepted) {
    const outcome = outcomes.get(job.id);
    const rightEnd = outcome !== undefined && (job.corrupt ? outcome.state === 'failed' && /^EDGE_ERR_IMAGE_/.test(outcome.error?.code ?? '') : outcome.state === 'completed');
    if (!rightEnd) {
      lost += 1;
      lostIds.push(`${job.id}:${outcome?.state ?? 'missing'}:${outcome?.error?.code ?? ''}`);
    }
    if (outcome?.state === 'completed') completed += 1;
    if (outcome) duplicates += Math.max(0, outcome.executions - 1);
  }
  return { lost, duplicates, completed, lostIds };
}

export interface SyncLoop {
  /** Stops the loop; answers every request's time (ms since the epoch) and status (0: no answer). */
  stop(): Promise<{ at: number; status: number; ms: number }[]>;
}

/** One synchronous inspect request after another (one in flight), as an app that does not use jobs. */
export function startSyncLoop(nodeUrl: string, image: Buffer, pauseMs = 30): SyncLoop {
  const results: { at: number; status: number; ms: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const started = performance.now();
      let status = 0;
      try {
        const response = await fetch(`${nodeUrl}/v1/inspect?surface=brick`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg', 'x-deadline-ms': '5000' }, signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        status = 0;
      }
      results.push({ at, status, ms: performance.now() - started });
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return results;
    },
  };
}

/** Submits one probe job (retrying while refused) and answers when it completed, ms after `since`. */
export async function probeJobLatency(nodeUrl: string, image: Buffer, key: string, since: number, timeoutMs = 30_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let id: string | undefined;
  while (id === undefined && Date.now() < until) {
    try {
      const response = await fetch(`${nodeUrl}/v1/jobs?task=inspect&surface=brick`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg', 'idempotency-key': key }, signal: AbortSignal.timeout(2_000) });
      const body = (await response.json()) as { id?: string };
      if (response.status === 202) id = body.id;
    } catch {
      // refused or no answer: again
    }
    if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  while (id !== undefined && Date.now() < until) {
    try {
      const view = (await (await fetch(`${nodeUrl}/v1/jobs/${id}`, { signal: AbortSignal.timeout(2_000) })).json()) as { state?: string };
      if (view.state === 'completed') return Date.now() - since;
    } catch {
      // again
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Number.POSITIVE_INFINITY;
}
