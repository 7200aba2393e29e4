/**
 * Contracts between the layers. Implementations live behind them:
 *   runtime/  implements ModelRuntime (the only importer of onnxruntime-node)
 *   registry/ implements ModelRepository (model cards, versions, load/unload)
 *   tasks/    implement the task functions (vision: detect, faces)
 * http/ and later streams/ and dispatch/ only see these types.
 */

// ---------------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------------

/** Element types, named as onnxruntime names them. */
export type TensorType =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/**
 * 8-bit pixels standing for a float32 tensor: the worker thread widens them to
 * value = data[i] * scale[c] + offset[c], c being the index along channelAxis (one scale/offset
 * for all channels when the arrays have one element). An image then crosses threads as a quarter of
 * the bytes, and the main thread never allocates the float tensor (less garbage, fewer GC pauses).
 */
export interface PixelEncoding {
  scale: readonly number[];
  offset: readonly number[];
  channelAxis: number;
  /**
   * The bytes are interleaved (N, H, W, C: what an image decoder gives) while dims say planar
   * (N, C, H, W; channelAxis 1): the worker moves each channel to its plane while it widens, so the
   * main thread hands over the decoder's buffer instead of transposing it pixel by pixel.
   */
  interleaved?: boolean;
}

/** A tensor as it crosses layers and worker threads (typed arrays are transferred, not copied). */
export interface Tensor {
  type: TensorType;
  dims: readonly number[];
  data: TensorData;
  /** With type 'float32' only: data is a Uint8Array of pixels widened on the worker (see PixelEncoding). */
  pixels?: PixelEncoding;
}

/** A model's declared tensor: -1 marks a variable dimension (as in the V2 protocol). */
export interface TensorSpec {
  name: string;
  type: TensorType;
  dims: readonly number[];
}

export interface ModelSignature {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
}

// ---------------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------------

export interface BatchingOptions {
  /** Largest batch the runtime assembles (1 = no batching). */
  maxBatchSize: number;
  /** How long the first request of a batch may wait for company, in milliseconds. */
  maxQueueDelayMs: number;
}

export interface LoadModelOptions {
  name: string;
  version: string;
  /** Absolute path of the .onnx file. */
  path: string;
  /** Past this many waiting requests the model answers EDGE_ERR_QUEUE_FULL (503). */
  maxQueueSize: number;
  /** A request still queued after this long fails with EDGE_ERR_QUEUE_TIMEOUT. */
  queueTimeoutMs: number;
  /** Only for models whose first input dimension is variable. */
  batching?: BatchingOptions;
  /** Warm-up inputs by name (from the card), for models that cannot run on zeros with variable dims as 1. */
  warmup?: WarmupInputs;
}

/** A warm-up tensor per input: its shape and the value it is filled with (0 unless given). */
export type WarmupInputs = Record<string, { dims: number[]; value?: number }>;

export interface InferOptions {
  /** Overall deadline for queue + compute, in milliseconds. */
  timeoutMs?: number;
  /** Higher runs first; default 0. */
  priority?: number;
  /** Aborting removes a queued request (it cannot stop a run already on a worker). */
  signal?: AbortSignal;
  /** Restrict the outputs computed and returned. */
  outputs?: readonly string[];
}

export interface InferTimings {
  queue_ms: number;
  infer_ms: number;
}

export interface InferResult {
  outputs: Record<string, Tensor>;
  timings: InferTimings;
  /** How many requests shared the run that served this one. */
  batchSize: number;
}

/** Counts and cumulative nanoseconds, as Triton's statistics extension reports them. */
export interface DurationStat {
  count: number;
  ns: number;
}

export interface ModelStats {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: DurationStat;
    fail: DurationStat;
    queue: DurationStat;
    compute_input: DurationStat;
    compute_infer: DurationStat;
    compute_output: DurationStat;
  };
}

export interface RuntimeUtilisation {
  workers: number;
  busyWorkers: number;
  queued: number;
}

export interface ModelRuntime {
  load(options: LoadModelOptions): Promise<ModelSignature>;
  unload(name: string, version: string): Promise<void>;
  infer(name: string, version: string, inputs: Record<string, Tensor>, options?: InferOptions): Promise<InferResult>;
  signature(name: string, version: string): ModelSignature | undefined;
  stats(): ModelStats[];
  utilisation(): RuntimeUtilisation;
  /** Graceful: waits for queued work; forced: fails it with EDGE_ERR_SHUTTING_DOWN. Idempotent. */
  close(options?: { force?: boolean }): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Model cards and the repository
// ---------------------------------------------------------------------------------------------

/** Datatypes of the Open Inference Protocol. */
export type V2Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

export interface CardTensor {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  description: string;
}

/** models/repository/<name>/card.json: see models/README.md for every field. */
export interface ModelCard {
  name: string;
  version: string;
  task: 'object-detection' | 'face-detection' | 'face-expression' | string;
  description: string;
  /** Path of the ONNX file relative to the card's folder. */
  file: string;
  sha256: string;
  inputs: CardTensor[];
  outputs: CardTensor[];
  labels: string[];
  preprocessing: string;
  postprocessing: string;
  defaults: { threshold?: number; maxDetections?: number; [key: string]: unknown };
  provenance: { package: string; files: string[]; upstream: string; converter: string };
  licence: string;
  verification?: Record<string, unknown>;
  /** Warm-up inputs (as Triton's model_warmup) when zeros with variable dims as 1 cannot run. */
  warmup?: Record<string, { shape: number[]; value?: number }>;
}

export type ModelState = 'READY' | 'UNAVAILABLE' | 'LOADING';

export interface RepositoryEntry {
  name: string;
  version: string;
  state: ModelState;
  reason?: string;
}

export interface LoadedModel {
  card: ModelCard;
  signature: ModelSignature;
}

export interface ModelRepository {
  /** Every model on disk, loaded or not (Triton's repository index). */
  index(): RepositoryEntry[];
  /** A loaded model; throws EDGE_ERR_MODEL_NAME_INVALID / _NOT_FOUND / _VERSION_NOT_FOUND / _NOT_READY. */
  get(name: string, version?: string): LoadedModel & { version: string };
  isReady(name: string, version?: string): boolean;
  load(name: string): Promise<void>;
  unload(name: string): Promise<void>;
  /** Runs a loaded model (the card's name and version resolve to the runtime's session). */
  infer(name: string, version: string | undefined, inputs: Record<string, Tensor>, options?: InferOptions): Promise<InferResult & { version: string }>;
  /**
   * Keeps `version` of `name` from being dropped by a reload until the returned function is called
   * (idempotent): a request that looked a version up and infers with it later - several times, for a
   * long transcription - still finds it after a reload's grace has passed.
   */
  hold(name: string, version: string): () => void;
  close(options?: { force?: boolean }): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Vision tasks
// ---------------------------------------------------------------------------------------------

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Detection {
  label: string;
  score: number;
  box: Box;
}

export interface TaskTimings {
  decode_ms: number;
  queue_ms: number;
  infer_ms: number;
  total_ms: number;
}

export interface DetectOptions {
  model?: string;
  threshold?: number;
  max?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DetectResult {
  model: string;
  version: string;
  width: number;
  height: number;
  detections: Detection[];
  timings: TaskTimings;
}

export interface Face {
  score: number;
  box: Box;
  /** Probability per expression label, summing to 1. */
  expression: Record<string, number>;
  dominant: string;
}

export interface FacesOptions {
  threshold?: number;
  max?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface FacesResult {
  model: string;
  version: string;
  width: number;
  height: number;
  faces: Face[];
  timings: TaskTimings;
}

export interface VisionTasks {
  detect(image: Buffer, options?: DetectOptions): Promise<DetectResult>;
  faces(image: Buffer, options?: FacesOptions): Promise<FacesResult>;
}

// ---------------------------------------------------------------------------------------------
// Defect inspection
// ---------------------------------------------------------------------------------------------

export interface InspectOptions {
  /** The surface the camera looks at (a surface of a loaded defect-inspection model). */
  surface: string;
  /** Image-level decision threshold (default: thresholdFor's, else the surface's, from the model card). */
  threshold?: number;
  /**
   * A threshold in [0, 1] for the exact model version that inspects the surface, or undefined for
   * the card's (a camera calibrated on that version: services/streams/calibration.ts). Asked only
   * when `threshold` is not given.
   */
  thresholdFor?: (model: string, version: string) => number | undefined;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DefectRegion {
  /** In the original image's pixels. */
  box: Box;
  /** The highest defect probability inside the region. */
  score: number;
}

export interface InspectResult {
  surface: string;
  model: string;
  version: string;
  width: number;
  height: number;
  defective: boolean;
  /** Image-level defect probability in [0, 1]. */
  score: number;
  threshold: number;
  /** Where the defects are (empty when the image is not defective). */
  regions: DefectRegion[];
  timings: TaskTimings;
}

/** A surface the node can inspect, from the card of the model that covers it. */
export interface SurfaceInfo {
  name: string;
  model: string;
  version: string;
  threshold: number;
  /** Share of defect-free validation frames the threshold flags (from the card). */
  falseAlarmRate: number | null;
}

export interface InspectionTasks {
  inspect(image: Uint8Array, options: InspectOptions): Promise<InspectResult>;
  /** Surfaces of the loaded defect-inspection models, sorted by name. */
  surfaces(): SurfaceInfo[];
  /** Throws EDGE_ERR_SURFACE_NOT_FOUND (naming the surfaces there are) unless a loaded model covers `name`. */
  assertSurface(name: string): void;
}

// ---------------------------------------------------------------------------------------------
// Speech recognition
// ---------------------------------------------------------------------------------------------

export interface TranscribeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RecognisedWord {
  word: string;
  /** From the start of the audio sent: the frames the model emits the word on (CTC spikes within
   *  the word), not its acoustic boundaries. */
  start_ms: number;
  end_ms: number;
  /** The acoustic model's mean probability of the word over its frames, in [0, 1]. */
  confidence: number;
}

export interface TranscribeResult {
  /** The words joined by single spaces; empty for silence. */
  text: string;
  words: RecognisedWord[];
  /** Length of the audio received. */
  duration_ms: number;
  model: string;
  version: string;
  timings: TaskTimings;
}

/** What a live stream reports: partials while an utterance goes on, one final when it ends. */
export interface UtteranceResult extends TranscribeResult {
  /** Counts utterances from 0 over the stream's life. */
  utterance: number;
  final: boolean;
}

export interface SpeechStreamListener {
  result(result: UtteranceResult): void;
  /** A failure recognising one utterance (the stream itself goes on). */
  error(error: unknown): void;
}

export interface SpeechStream {
  /** Mono 16 kHz samples in [-1, 1], as they arrive. */
  push(samples: Float32Array): void;
  /** Finalises what is pending and resolves once its final result was reported. */
  end(): Promise<void>;
  /** Drops everything pending; reports nothing more. */
  close(): void;
}

export interface SpeechTasks {
  /** A WAV file (PCM 8/16/24/32-bit or float, any rate, any channels up to the limit) -> words. */
  transcribe(wav: Uint8Array, options?: TranscribeOptions): Promise<TranscribeResult>;
  /** Decoded mono 16 kHz samples in [-1, 1] -> words (what transcribe does after decoding). */
  transcribeSamples(samples: Float32Array, options?: TranscribeOptions): Promise<TranscribeResult>;
  /** A live stream: utterances are found by voice activity; partial and final results go to `listener`. */
  openStream(listener: SpeechStreamListener): SpeechStream;
}
