/**
 * Reads a TF.js graph model (model.json + its .bin shards) into a plain graph: nodes with
 * decoded attributes, the weights as typed arrays (dequantised), placeholders and outputs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { allocate, elementCount, type ConstTensor, type DType } from './tensor.ts';

export type TfAttr = string | number | boolean | number[] | string[] | null;

export interface TfNode {
  name: string;
  op: string;
  /** Tensor references: "node" (output 0) or "node:k"; "^node" control inputs are dropped. */
  inputs: string[];
  attrs: Record<string, TfAttr>;
}

export interface TfPlaceholder {
  name: string;
  dtype: DType;
  /** -1 where the model leaves a dimension open. */
  shape: number[];
}

export interface TfGraph {
  nodes: TfNode[];
  weights: Map<string, ConstTensor>;
  placeholders: TfPlaceholder[];
  /** Output tensor references in the order of the signature (or of the graph when unsigned). */
  outputs: string[];
  generatedBy: string;
  convertedBy: string;
}

interface RawAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

interface RawNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, RawAttr>;
}

interface RawWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number; original_dtype?: string };
}

interface RawSignature {
  inputs?: Record<string, { name: string }>;
  outputs?: Record<string, { name: string }>;
}

interface RawModel {
  modelTopology: { node: RawNode[] };
  weightsManifest: { paths: string[]; weights: RawWeight[] }[];
  signature?: RawSignature;
  userDefinedMetadata?: { signature?: RawSignature };
  generatedBy?: string;
  convertedBy?: string;
}

const TF_DTYPES: Record<string, DType> = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_INT64: 'int32', DT_BOOL: 'bool' };

function decodeAttr(raw: RawAttr): TfAttr {
  if (raw.s !== undefined) return Buffer.from(raw.s, 'base64').toString('utf8');
  if (raw.i !== undefined) return Number(raw.i);
  if (raw.f !== undefined) return raw.f;
  if (raw.b !== undefined) return raw.b;
  if (raw.type !== undefined) return raw.type;
  if (raw.list !== undefined) {
    if (raw.list.s) return raw.list.s.map((s) => Buffer.from(s, 'base64').toString('utf8'));
    if (raw.list.i) return raw.list.i.map(Number);
    if (raw.list.f) return raw.list.f;
    return [];
  }
  if (raw.shape !== undefined) return (raw.shape.dim ?? []).map((dim) => Number(dim.size ?? -1));
  return null;
}

function halfToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Decodes one weight entry from the concatenated shards; returns the tensor and its byte size. */
function readWeight(weight: RawWeight, bytes: Buffer, offset: number): { tensor: ConstTensor; size: number } {
  const count = elementCount(weight.shape);
  const dtype: DType = weight.dtype === 'float32' ? 'float32' : weight.dtype === 'int32' ? 'int32' : weight.dtype === 'bool' ? 'bool' : ((): never => {
    throw new Error(`weight ${weight.name}: unsupported dtype ${weight.dtype}`);
  })();
  const quantization = weight.quantization;
  if (quantization) {
    const out = new Float32Array(count);
    if (quantization.dtype === 'float16') {
      for (let i = 0; i < count; i++) out[i] = halfToFloat(bytes.readUInt16LE(offset + 2 * i));
      return { tensor: { dtype, shape: weight.shape, data: dtype === 'int32' ? Int32Array.from(out) : out }, size: 2 * count };
    }
    const width = quantization.dtype === 'uint8' ? 1 : quantization.dtype === 'uint16' ? 2 : 0;
    if (!width) throw new Error(`weight ${weight.name}: unsupported quantization ${quantization.dtype}`);
    const scale = quantization.scale ?? 1;
    const min = quantization.min ?? 0;
    for (let i = 0; i < count; i++) {
      const q = width === 1 ? bytes.readUInt8(offset + i) : bytes.readUInt16LE(offset + 2 * i);
      out[i] = q * scale + min;
    }
    const data = dtype === 'int32' ? Int32Array.from(out, Math.round) : out;
    return { tensor: { dtype, shape: weight.shape, data }, size: width * count };
  }
  const width = dtype === 'bool' ? 1 : 4;
  const data = allocate(dtype, count);
  // Copy through a fresh buffer: the shard slice need not be 4-byte aligned.
  const slice = new Uint8Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + width * count));
  if (dtype === 'bool') (data as Uint8Array).set(slice);
  else if (dtype === 'float32') (data as Float32Array).set(new Float32Array(slice.buffer));
  else (data as Int32Array).set(new Int32Array(slice.buffer));
  return { tensor: { dtype, shape: weight.shape, data }, size: width * count };
}

function signatureOf(model: RawModel): RawSignature | undefined {
  return model.signature ?? model.userDefinedMetadata?.signature;
}

const stripPort = (ref: string): string => ref.replace(/:0$/, '');

export function readTfjsGraph(modelJsonPath: string): TfGraph {
  const model = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as RawModel;
  const weights = new Map<string, ConstTensor>();
  for (const group of model.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((path) => readFileSync(join(dirname(modelJsonPath), path))));
    let offset = 0;
    for (const weight of group.weights) {
      const { tensor, size } = readWeight(weight, bytes, offset);
      weights.set(weight.name, tensor);
      offset += size;
    }
    if (offset !== bytes.length) throw new Error(`${modelJsonPath}: manifest covers ${offset} of ${bytes.length} bytes`);
  }

  const nodes: TfNode[] = model.modelTopology.node.map((raw) => ({
    name: raw.name,
    op: raw.op,
    inputs: (raw.input ?? []).filter((ref) => !ref.startsWith('^')).map(stripPort),
    attrs: Object.fromEntries(Object.entries(raw.attr ?? {}).map(([key, value]) => [key, decodeAttr(value)])),
  }));

  const placeholders: TfPlaceholder[] = nodes
    .filter((node) => node.op === 'Placeholder')
    .map((node) => ({
      name: node.name,
      dtype: TF_DTYPES[String(node.attrs.dtype)] ?? 'float32',
      shape: (node.attrs.shape as number[] | null) ?? [],
    }));

  const signature = signatureOf(model);
  let outputs: string[];
  if (signature?.outputs) {
    // Signature keys are listed in no particular order: sort by name for a stable output order.
    outputs = Object.values(signature.outputs).map((output) => stripPort(output.name)).sort(compareNames);
  } else {
    const consumed = new Set(nodes.flatMap((node) => node.inputs.map((ref) => ref.replace(/:\d+$/, ''))));
    outputs = nodes.filter((node) => node.op === 'Identity' && !consumed.has(node.name)).map((node) => node.name).sort(compareNames);
  }
  return { nodes, weights, placeholders, outputs, generatedBy: model.generatedBy ?? '', convertedBy: model.convertedBy ?? '' };
}

/** Natural order, so that Identity_2 sorts before Identity_10. */
export function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function attrInts(node: TfNode, key: string, fallback: number[] = []): number[] {
  const value = node.attrs[key];
  return Array.isArray(value) ? (value as number[]) : fallback;
}

export function attrString(node: TfNode, key: string, fallback = ''): string {
  const value = node.attrs[key];
  return typeof value === 'string' ? value : fallback;
}

export function attrNumber(node: TfNode, key: string, fallback = 0): number {
  const value = node.attrs[key];
  return typeof value === 'number' ? value : fallback;
}

export function attrBool(node: TfNode, key: string, fallback = false): boolean {
  const value = node.attrs[key];
  return typeof value === 'boolean' ? value : fallback;
}

export function attrStrings(node: TfNode, key: string): string[] {
  const value = node.attrs[key];
  return Array.isArray(value) ? (value as string[]) : [];
}
