/**
 * The inference runtime: the only part of the platform that imports onnxruntime-node (in its
 * session workers). The composition root calls createRuntime(config) and passes the result to the
 * registry; nothing else constructs it.
 */
import type { Config } from '../core/config.ts';
import { OnnxRuntime } from './onnx-runtime.ts';

export { OnnxRuntime, type OnnxRuntimeOptions, type RuntimeModelInfo } from './onnx-runtime.ts';

/** A runtime with config.runtime.workers session workers of config.runtime.intraOpThreads cores each. */
export function createRuntime(config: Pick<Readonly<Config>, 'runtime'>): OnnxRuntime {
  return new OnnxRuntime({ workers: config.runtime.workers, intraOpThreads: config.runtime.intraOpThreads, workerNice: config.runtime.workerNice, warmup: config.runtime.warmup });
}
