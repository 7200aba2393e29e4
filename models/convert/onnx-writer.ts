/**
 * Encodes an OnnxModel as an ONNX ModelProto with protobufjs and the committed onnx.proto
 * subset. Given the same model, the bytes are the same: fields are written in schema order,
 * initializers in the order of the map, tensors as little-endian raw_data.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { OnnxAttribute, OnnxModel, OnnxValueInfo } from './onnx-ir.ts';
import type { ConstTensor, DType } from './tensor.ts';

const SCHEMA_PATH = fileURLToPath(new URL('./onnx.proto', import.meta.url));

/** ONNX TensorProto.DataType numbers. */
const ONNX_DTYPES: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };

/** ONNX IR version that goes with opset 13 (onnx 1.8). */
const IR_VERSION = 7;

const ATTRIBUTE_TYPES = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export function onnxDataType(dtype: DType): number {
  return ONNX_DTYPES[dtype];
}

function tensorProto(name: string, tensor: ConstTensor): Record<string, unknown> {
  const view = tensor.data;
  return {
    name,
    dims: tensor.shape,
    dataType: ONNX_DTYPES[tensor.dtype],
    rawData: new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  };
}

function attributeProto(attribute: OnnxAttribute): Record<string, unknown> {
  const base = { name: attribute.name, type: ATTRIBUTE_TYPES[attribute.kind] };
  switch (attribute.kind) {
    case 'int':
      return { ...base, i: attribute.value };
    case 'ints':
      return { ...base, ints: attribute.value };
    case 'float':
      return { ...base, f: attribute.value };
    case 'floats':
      return { ...base, floats: attribute.value };
    case 'string':
      return { ...base, s: Buffer.from(attribute.value, 'utf8') };
  }
}

function valueInfoProto(info: OnnxValueInfo): Record<string, unknown> {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPES[info.dtype],
        shape: { dim: info.dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  };
}

let modelType: protobuf.Type | undefined;

function loadModelType(): protobuf.Type {
  modelType ??= protobuf.loadSync(SCHEMA_PATH).lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeModel(model: OnnxModel): Uint8Array {
  const { graph } = model;
  const message = {
    irVersion: IR_VERSION,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    docString: model.docString,
    opsetImport: [{ domain: '', version: model.opset }],
    metadataProps: model.metadata.map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((node) => ({
        name: node.name,
        opType: node.opType,
        input: node.inputs,
        output: node.outputs,
        attribute: node.attributes.map(attributeProto),
      })),
      initializer: [...graph.initializers].map(([name, tensor]) => tensorProto(name, tensor)),
      input: graph.inputs.map(valueInfoProto),
      output: graph.outputs.map(valueInfoProto),
    },
  };
  const type = loadModelType();
  return type.encode(type.fromObject(message)).finish();
}
