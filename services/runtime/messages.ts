/**
 * The protocol between the runtime (main thread) and a session worker. Every request carries an
 * id; every reply names it. Errors travel as serialised EdgeErrors and are revived by code.
 */
import type { ModelSignature, Tensor, WarmupInputs } from '../core/contracts.ts';
import type { SerializedEdgeError } from '../core/errors.ts';

export interface SessionSettings {
  intraOpThreads: number;
  /** Run once on zeros before taking traffic (see session-worker.ts warmUp). */
  warmup: boolean;
}

export interface LoadMessage {
  type: 'load';
  id: number;
  /** name@version: one session per key per worker. */
  key: string;
  path: string;
  settings: SessionSettings;
  /** Inputs of the warm-up run where zeros with variable dims as 1 would not run. */
  warmup?: WarmupInputs;
}

export interface UnloadMessage {
  type: 'unload';
  id: number;
  key: string;
}

/** One run for one or more requests; the worker concatenates them along dim 0 and splits back. */
export interface RunMessage {
  type: 'run';
  id: number;
  key: string;
  requests: Record<string, Tensor>[];
  /** Outputs to fetch (undefined: all). */
  outputs: string[] | undefined;
}

/** Wakes an idle worker so that it reads its control word and exits (see WORKER_CONTROL). */
export interface ExitMessage {
  type: 'exit';
  id: number;
}

export type ToWorker = LoadMessage | UnloadMessage | RunMessage | ExitMessage;

/**
 * Values of the worker's control word (an Int32 in a SharedArrayBuffer). onnxruntime-node aborts
 * the whole process when a worker is terminate()d during a native run, so a worker is never
 * terminated from outside: it reads this word before each message and right after each run, and
 * ends itself there, where it is safe.
 */
export const WORKER_CONTROL = {
  RUN: 0,
  /** Release the sessions and exit with code 0 (close). */
  SHUTDOWN: 1,
  /** Exit with code 1 at once, dropping the run in hand, as a crash would (test hook). */
  CRASH: 2,
} as const;

export interface LoadedReply {
  type: 'loaded';
  id: number;
  signature: ModelSignature;
  /** Growth of the process RSS while this session was created (process-wide, so approximate). */
  rssDeltaBytes: number;
}

export interface UnloadedReply {
  type: 'unloaded';
  id: number;
}

export interface RunTimings {
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

export interface RunReply {
  type: 'result';
  id: number;
  /** One output set per request, in the order of RunMessage.requests. */
  results: Record<string, Tensor>[];
  timings: RunTimings;
}

export interface ErrorReply {
  type: 'error';
  id: number;
  error: SerializedEdgeError;
  timings?: RunTimings;
}

export type FromWorker = LoadedReply | UnloadedReply | RunReply | ErrorReply;
