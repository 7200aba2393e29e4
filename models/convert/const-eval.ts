/**
 * Constant folding: evaluates in JS the few ops whose inputs are all known at conversion time
 * (shape arithmetic such as nanodet's SparseToDense + AddV2 that build Reshape targets).
 * Returns undefined for ops it does not evaluate; those are converted as nodes.
 */
import type { TfNode } from './tfjs-graph.ts';
import { broadcastShapes, resolveReshape, normalizeAxis } from './shapes.ts';
import { allocate, elementCount, readNumber, stridesOf, toNumbers, fromNumbers, type ConstTensor } from './tensor.ts';

type Folder = (node: TfNode, inputs: ConstTensor[]) => ConstTensor[];

function binary(operation: (a: number, b: number) => number): Folder {
  return (_node, [a, b]) => {
    const shape = broadcastShapes(a!.shape, b!.shape);
    const out = allocate(a!.dtype, elementCount(shape));
    const outStrides = stridesOf(shape);
    const indexIn = (tensor: ConstTensor, flat: number): number => {
      // Map an output position to the (broadcast) input position.
      const offset = shape.length - tensor.shape.length;
      const strides = stridesOf(tensor.shape);
      let position = 0;
      for (let axis = 0; axis < tensor.shape.length; axis++) {
        const coordinate = Math.floor(flat / outStrides[axis + offset]!) % shape[axis + offset]!;
        position += (tensor.shape[axis] === 1 ? 0 : coordinate) * strides[axis]!;
      }
      return position;
    };
    for (let i = 0; i < out.length; i++) {
      const value = operation(readNumber(a!, indexIn(a!, i)), readNumber(b!, indexIn(b!, i)));
      if (out instanceof BigInt64Array) out[i] = BigInt(value);
      else out[i] = value;
    }
    return [{ dtype: a!.dtype, shape, data: out }];
  };
}

const FOLDERS: Record<string, Folder> = {
  Identity: (_node, [x]) => [x!],
  Add: binary((a, b) => a + b),
  AddV2: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Reshape: (_node, [x, shape]) => [{ ...x!, shape: resolveReshape(x!.shape, toNumbers(shape!)) }],
  ExpandDims: (_node, [x, axis]) => {
    const shape = [...x!.shape];
    shape.splice(normalizeAxis(readNumber(axis!, 0), shape.length + 1), 0, 1);
    return [{ ...x!, shape }];
  },
  SparseToDense: (_node, [indices, outputShape, values, defaultValue]) => {
    const shape = toNumbers(outputShape!);
    const dense = new Array<number>(elementCount(shape)).fill(readNumber(defaultValue!, 0));
    const rank = shape.length;
    const strides = stridesOf(shape);
    const count = indices!.shape[0] ?? (indices!.data.length ? 1 : 0);
    for (let i = 0; i < count; i++) {
      let position = 0;
      for (let axis = 0; axis < rank; axis++) position += readNumber(indices!, i * rank + axis) * strides[axis]!;
      dense[position] = readNumber(values!, values!.data.length === 1 ? 0 : i);
    }
    return [fromNumbers(values!.dtype, shape, dense)];
  },
};

export function foldConstant(node: TfNode, inputs: ConstTensor[]): ConstTensor[] | undefined {
  const folder = FOLDERS[node.op];
  return folder ? folder(node, inputs) : undefined;
}
