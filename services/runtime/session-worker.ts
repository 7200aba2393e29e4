/**
 * A session worker: holds one onnxruntime session per loaded model and runs them. session.run()
 * blocks this thread for the whole inference, which is why it lives here and not on the main thread.
 * Messages are handled one at a time, in order, so a load, a run and an unload never interleave.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { ModelSignature, PixelEncoding, Tensor, TensorSpec, WarmupInputs } from '../core/contracts.ts';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import { WORKER_CONTROL, type FromWorker, type LoadMessage, type RunMessage, type RunTimings, type ToWorker, type UnloadMessage } from './messages.ts';
import { allocate, isTensorType, prepareForTransfer, type TypedTensorData } from './tensor-types.ts';

if (!parentPort) throw new Error('session-worker.ts must run in a worker thread');
const port = parentPort;

const sessions = new Map<string, ort.InferenceSession>();
const { control: controlBuffer, nice } = workerData as { control: SharedArrayBuffer; nice: number };
const control = new Int32Array(controlBuffer);

/**
 * Inference yields the CPU to the main thread: a health check or a new request's I/O is served at
 * once even when every core runs a model. On Linux, nice is per thread (setpriority on a thread id)
 * and threads created later - onnxruntime's intra-op pool - inherit it. Elsewhere: no-op.
 */
function lowerOwnPriority(niceness: number): void {
  if (!niceness || process.platform !== 'linux') return;
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(threadId) && threadId > 0) os.setPriority(threadId, niceness);
  } catch {
    // Not allowed or not Linux-like: run at the normal priority.
  }
}
lowerOwnPriority(nice);

/** Ends this worker if the pool asked for it; called only where no native call is in progress. */
async function exitIfAsked(): Promise<void> {
  const mode = Atomics.load(control, 0);
  if (mode === WORKER_CONTROL.CRASH) process.exit(1);
  if (mode === WORKER_CONTROL.SHUTDOWN) {
    for (const session of sessions.values()) await session.release();
    sessions.clear();
    process.exit(0);
  }
}

function now(): bigint {
  return process.hrtime.bigint();
}

function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[], path: string): TensorSpec[] {
  return metadata.map((value) => {
    if (!value.isTensor || !isTensorType(value.type)) {
      throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `${path}: value "${value.name}" is not a tensor of a supported type`);
    }
    // Symbolic dimensions ("batch") and unknown ones are variable: -1, as the V2 protocol writes them.
    const dims = value.shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1));
    return { name: value.name, type: value.type, dims };
  });
}

async function load(message: LoadMessage): Promise<FromWorker> {
  const before = process.memoryUsage.rss();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(message.path, {
      executionProviders: ['cpu'],
      intraOpNumThreads: message.settings.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Measured on CenterNet + NanoDet in one thread (RSS after runs, CenterNet ms per run):
      // arena on + memory pattern off 197 MB, 56 ms; arena off + pattern on 202 MB, 202 ms (the
      // pattern's one big block is malloc'ed and faulted in on every run); both on 236 MB, 73 ms;
      // both off 250 MB, 57 ms. The arena reuses its blocks across runs, the pattern adds nothing.
      enableCpuMemArena: true,
      enableMemPattern: false,
      // Failures reach the caller as EDGE_ERR_INFERENCE_FAILED; ORT's own stderr lines only add noise.
      logSeverityLevel: 4,
    });
  } catch (error) {
    throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `cannot load ${message.path}: ${(error as Error).message}`, {
      details: { path: message.path },
    });
  }
  let signature: ModelSignature;
  try {
    signature = { inputs: specsOf(session.inputMetadata, message.path), outputs: specsOf(session.outputMetadata, message.path) };
  } catch (error) {
    await session.release();
    throw error;
  }
  if (message.settings.warmup) {
    try {
      await warmUp(session, signature, message.warmup);
    } catch (error) {
      await session.release();
      throw new EdgeError('EDGE_ERR_MODEL_LOAD_FAILED', `${message.path} loads but fails to run: ${(error as Error).message}`, {
        details: { path: message.path },
      });
    }
  }
  const previous = sessions.get(message.key);
  sessions.set(message.key, session);
  if (previous) await previous.release();
  // RSS is process-wide: other threads may free memory meanwhile, so a 'growth' below 0 reads as 0.
  return { type: 'loaded', id: message.id, signature, rssDeltaBytes: Math.max(0, process.memoryUsage.rss() - before) };
}

/**
 * One run before the session takes traffic, as Triton's model warm-up: onnxruntime allocates its
 * buffers and picks its kernels on the first run, which is several times slower than the next, and
 * a model that loads but cannot run is refused here rather than later. Inputs are zeros with
 * variable dims as 1, unless the card gives an input's shape and value (`warmup`): a model that
 * needs a minimum length (a spectrogram's window) or a meaningful value (a sample rate) says so there.
 */
async function warmUp(session: ort.InferenceSession, signature: ModelSignature, given: WarmupInputs = {}): Promise<void> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of signature.inputs) {
    if (spec.type === 'string') return; // no meaningful zero for text: skip the warm-up
    const dims = given[spec.name]?.dims ?? spec.dims.map((dim) => (dim === -1 ? 1 : dim));
    const data = allocate(spec.type, dims.reduce((product, dim) => product * dim, 1));
    const value = given[spec.name]?.value;
    if (value !== undefined) {
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data.fill(BigInt(Math.round(value)) as never);
      else (data as Float32Array).fill(value);
    }
    feeds[spec.name] = toOrt({ type: spec.type, dims, data });
  }
  await session.run(feeds);
}

async function unload(message: UnloadMessage): Promise<FromWorker> {
  const session = sessions.get(message.key);
  sessions.delete(message.key);
  if (session) await session.release();
  return { type: 'unloaded', id: message.id };
}

function rowsOf(request: Record<string, Tensor>): number {
  const first = Object.values(request)[0];
  return first?.dims[0] ?? 0;
}

/** Joins the requests' inputs along dim 0 (the runtime only batches requests whose other dims agree). */
function concatenate(requests: Record<string, Tensor>[]): Record<string, Tensor> {
  const first = requests[0]!;
  const joined: Record<string, Tensor> = {};
  for (const [name, head] of Object.entries(first)) {
    const parts = requests.map((request) => request[name]!);
    const rows = parts.reduce((sum, part) => sum + part.dims[0]!, 0);
    const length = parts.reduce((sum, part) => sum + part.data.length, 0);
    const data = allocate(head.type, length);
    let offset = 0;
    for (const part of parts) {
      if (Array.isArray(data)) (data as string[]).splice(offset, part.data.length, ...(part.data as string[]));
      else (data as TypedTensorData).set(part.data as never, offset);
      offset += part.data.length;
    }
    joined[name] = { type: head.type, dims: [rows, ...head.dims.slice(1)], data };
  }
  return joined;
}

function split(outputs: Record<string, Tensor>, rowsPerRequest: number[]): Record<string, Tensor>[] {
  const total = rowsPerRequest.reduce((sum, rows) => sum + rows, 0);
  const results: Record<string, Tensor>[] = rowsPerRequest.map(() => ({}));
  for (const [name, output] of Object.entries(outputs)) {
    if (output.dims[0] !== total) {
      throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `output "${name}" has ${output.dims[0]} rows for a batch of ${total}`);
    }
    const rowLength = total === 0 ? 0 : output.data.length / total;
    let row = 0;
    rowsPerRequest.forEach((rows, index) => {
      const data = output.data.slice(row * rowLength, (row + rows) * rowLength) as Tensor['data'];
      results[index]![name] = { type: output.type, dims: [rows, ...output.dims.slice(1)], data };
      row += rows;
    });
  }
  return results;
}

/** Interleaved 8-bit pixels (n, h, w, c) -> planar float32 (n, c, h, w), widened on the way. */
function widenInterleaved(tensor: Tensor, pixels: PixelEncoding): Tensor {
  const source = tensor.data as Uint8Array;
  const [batch, channels, height, width] = tensor.dims as [number, number, number, number];
  const plane = height * width;
  const data = new Float32Array(source.length);
  for (let c = 0; c < channels; c++) {
    // As float32, as the planar path's per-channel arrays hold them: both layouts give the same bits.
    const scale = Math.fround(pixels.scale[pixels.scale.length > 1 ? c : 0]!);
    const offset = Math.fround(pixels.offset[pixels.offset.length > 1 ? c : 0]!);
    for (let n = 0; n < batch; n++) {
      const image = n * channels * plane;
      const target = image + c * plane;
      for (let pixel = 0, from = image + c; pixel < plane; pixel++, from += channels) data[target + pixel] = source[from]! * scale + offset;
    }
  }
  return { type: 'float32', dims: tensor.dims, data };
}

/** 8-bit pixels -> float32 (value = pixel * scale[c] + offset[c]); other tensors pass as they are. */
function widenPixels(tensor: Tensor): Tensor {
  const { pixels } = tensor;
  if (!pixels) return tensor;
  if (pixels.interleaved === true) return widenInterleaved(tensor, pixels);
  const source = tensor.data as Uint8Array;
  const data = new Float32Array(source.length);
  const channels = tensor.dims[pixels.channelAxis]!;
  // Elements between two channel steps: the product of the dims after the channel axis.
  const stride = tensor.dims.slice(pixels.channelAxis + 1).reduce((product, dim) => product * dim, 1);
  const perChannel = pixels.scale.length > 1 || pixels.offset.length > 1;
  if (!perChannel) {
    const scale = pixels.scale[0]!;
    const offset = pixels.offset[0]!;
    for (let i = 0; i < source.length; i++) data[i] = source[i]! * scale + offset;
  } else {
    const scales = Float32Array.from({ length: channels }, (_, c) => pixels.scale[pixels.scale.length > 1 ? c : 0]!);
    const offsets = Float32Array.from({ length: channels }, (_, c) => pixels.offset[pixels.offset.length > 1 ? c : 0]!);
    for (let i = 0; i < source.length; i++) {
      const c = Math.floor(i / stride) % channels;
      data[i] = source[i]! * scales[c]! + offsets[c]!;
    }
  }
  return { type: 'float32', dims: tensor.dims, data };
}

function widenRequest(request: Record<string, Tensor>): Record<string, Tensor> {
  const widened: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(request)) widened[name] = widenPixels(tensor);
  return widened;
}

function toOrt(tensor: Tensor): ort.Tensor {
  return new ort.Tensor(tensor.type as never, tensor.data as never, tensor.dims);
}

function fromOrt(tensor: ort.Tensor): Tensor {
  return { type: tensor.type as Tensor['type'], dims: [...tensor.dims], data: tensor.data as Tensor['data'] };
}

function elapsed(from: bigint, to: bigint): number {
  return Number(to - from);
}

async function run(message: RunMessage): Promise<{ reply: FromWorker; transfer: ArrayBuffer[] }> {
  const session = sessions.get(message.key);
  if (!session) throw new EdgeError('EDGE_ERR_MODEL_NOT_READY', `model ${message.key} is not loaded on this worker`);
  const t0 = now();
  const timings: RunTimings = { inputNs: 0, inferNs: 0, outputNs: 0 };
  try {
    const batched = message.requests.length > 1;
    const requests = message.requests.map(widenRequest);
    const joined = batched ? concatenate(requests) : requests[0]!;
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(joined)) feeds[name] = toOrt(tensor);
    const t1 = now();
    timings.inputNs = elapsed(t0, t1);
    let raw: ort.InferenceSession.OnnxValueMapType;
    try {
      raw = message.outputs ? await session.run(feeds, message.outputs) : await session.run(feeds);
    } catch (error) {
      throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `inference failed: ${(error as Error).message}`, { details: { model: message.key } });
    }
    await exitIfAsked(); // a shutdown or a simulated crash that arrived during the run
    const t2 = now();
    timings.inferNs = elapsed(t1, t2);
    const outputs: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(raw)) outputs[name] = fromOrt(value as ort.Tensor);
    const results = batched ? split(outputs, message.requests.map(rowsOf)) : [outputs];
    const transfer = new Set<ArrayBuffer>();
    for (const result of results) {
      for (const name of Object.keys(result)) result[name] = prepareForTransfer(result[name]!, transfer);
    }
    timings.outputNs = elapsed(t2, now());
    return { reply: { type: 'result', id: message.id, results, timings }, transfer: [...transfer] };
  } catch (error) {
    const edge = toEdgeError(error);
    const code = edge.code === 'EDGE_ERR_INTERNAL' ? 'EDGE_ERR_INFERENCE_FAILED' : edge.code;
    const reply: FromWorker = { type: 'error', id: message.id, error: { ...edge.toJSON(), code }, timings };
    return { reply, transfer: [] };
  }
}

async function handle(message: ToWorker): Promise<void> {
  await exitIfAsked();
  if (message.type === 'exit') return;
  try {
    if (message.type === 'run') {
      const { reply, transfer } = await run(message);
      try {
        port.postMessage(reply, transfer);
      } catch {
        // A buffer onnxruntime owns may refuse to detach: send a copy instead.
        port.postMessage(reply);
      }
    } else {
      port.postMessage(message.type === 'load' ? await load(message) : await unload(message));
    }
  } catch (error) {
    port.postMessage({ type: 'error', id: message.id, error: toEdgeError(error).toJSON() } satisfies FromWorker);
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (message: ToWorker) => {
  chain = chain.then(() => handle(message));
});
