/**
 * Finds the external-data files an ONNX model refers to, without onnxruntime and without a
 * protobuf library: a minimal walk over the wire format along the schema paths that can hold a
 * TensorProto (graph initializers, sparse initializers, node attributes, subgraphs, training info).
 * The registry refuses a model whose external data would be read from outside its folder.
 */

// Field numbers from onnx.proto (onnx 1.12).
const MODEL_GRAPH = 7;
const MODEL_TRAINING_INFO = 20;
const TRAINING_INITIALIZATION = 1;
const TRAINING_ALGORITHM = 2;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_SPARSE_INITIALIZER = 15;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_TENSOR = 5;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_TENSORS = 10;
const ATTRIBUTE_GRAPHS = 11;
const ATTRIBUTE_SPARSE_TENSOR = 22;
const ATTRIBUTE_SPARSE_TENSORS = 23;
const SPARSE_VALUES = 1;
const SPARSE_INDICES = 2;
const TENSOR_EXTERNAL_DATA = 13;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

/** Deeper nesting than this is not a real model; it is refused rather than walked. */
const MAX_DEPTH = 64;

export class OnnxFormatError extends Error {}

type Visitor = (field: number, bytes: Uint8Array) => void;

function readVarint(buffer: Uint8Array, start: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  let offset = start;
  for (let index = 0; index < 10; index += 1) {
    if (offset >= buffer.length) throw new OnnxFormatError('truncated varint');
    const byte = buffer[offset++]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, offset];
    scale *= 128;
  }
  throw new OnnxFormatError('varint too long');
}

/** Calls `visit` for every length-delimited field of one message; skips all other fields. */
function eachField(buffer: Uint8Array, visit: Visitor): void {
  let offset = 0;
  while (offset < buffer.length) {
    const [tag, afterTag] = readVarint(buffer, offset);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    offset = afterTag;
    if (wireType === 0) offset = readVarint(buffer, offset)[1];
    else if (wireType === 1) offset += 8;
    else if (wireType === 5) offset += 4;
    else if (wireType === 2) {
      const [length, afterLength] = readVarint(buffer, offset);
      const end = afterLength + length;
      if (end > buffer.length) throw new OnnxFormatError('field runs past the end of the message');
      visit(field, buffer.subarray(afterLength, end));
      offset = end;
    } else throw new OnnxFormatError(`unsupported wire type ${wireType}`);
    if (offset > buffer.length) throw new OnnxFormatError('truncated field');
  }
}

function text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

class Walker {
  readonly locations: string[] = [];

  tensor(bytes: Uint8Array): void {
    eachField(bytes, (field, value) => {
      if (field !== TENSOR_EXTERNAL_DATA) return;
      let key = '';
      let entry = '';
      eachField(value, (inner, innerValue) => {
        if (inner === ENTRY_KEY) key = text(innerValue);
        else if (inner === ENTRY_VALUE) entry = text(innerValue);
      });
      if (key === 'location') this.locations.push(entry);
    });
  }

  sparse(bytes: Uint8Array): void {
    eachField(bytes, (field, value) => {
      if (field === SPARSE_VALUES || field === SPARSE_INDICES) this.tensor(value);
    });
  }

  graph(bytes: Uint8Array, depth: number): void {
    if (depth > MAX_DEPTH) throw new OnnxFormatError('subgraphs nested too deeply');
    eachField(bytes, (field, value) => {
      if (field === GRAPH_INITIALIZER) this.tensor(value);
      else if (field === GRAPH_SPARSE_INITIALIZER) this.sparse(value);
      else if (field === GRAPH_NODE) {
        eachField(value, (nodeField, attribute) => {
          if (nodeField === NODE_ATTRIBUTE) this.attribute(attribute, depth);
        });
      }
    });
  }

  attribute(bytes: Uint8Array, depth: number): void {
    eachField(bytes, (field, value) => {
      if (field === ATTRIBUTE_TENSOR || field === ATTRIBUTE_TENSORS) this.tensor(value);
      else if (field === ATTRIBUTE_SPARSE_TENSOR || field === ATTRIBUTE_SPARSE_TENSORS) this.sparse(value);
      else if (field === ATTRIBUTE_GRAPH || field === ATTRIBUTE_GRAPHS) this.graph(value, depth + 1);
    });
  }

  model(bytes: Uint8Array): void {
    eachField(bytes, (field, value) => {
      if (field === MODEL_GRAPH) this.graph(value, 0);
      else if (field === MODEL_TRAINING_INFO) {
        eachField(value, (inner, graph) => {
          if (inner === TRAINING_INITIALIZATION || inner === TRAINING_ALGORITHM) this.graph(graph, 0);
        });
      }
    });
  }
}

/** Every external-data `location` in the model, as written (relative to the model file's folder). */
export function externalDataLocations(model: Uint8Array): string[] {
  const walker = new Walker();
  walker.model(model);
  return walker.locations;
}
