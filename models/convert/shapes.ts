/** Static shape arithmetic shared by the op mappers and the constant folder. */

/** Numpy/TF broadcasting (both follow the same rule). */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export interface Window {
  /** Output size along one spatial axis. */
  out: number;
  padBefore: number;
  padAfter: number;
}

/**
 * One spatial axis of a TF convolution or pooling window. TF's SAME pads so that
 * out = ceil(in / stride) and puts the odd pixel AFTER (bottom/right): ONNX's SAME_UPPER does
 * the same, but we write explicit pads computed from the static shape.
 */
export function windowAxis(
  size: number,
  kernel: number,
  stride: number,
  dilation: number,
  padding: string,
  explicit: [number, number] = [0, 0],
): Window {
  const effectiveKernel = (kernel - 1) * dilation + 1;
  if (padding === 'SAME') {
    const out = Math.ceil(size / stride);
    const total = Math.max((out - 1) * stride + effectiveKernel - size, 0);
    const padBefore = Math.floor(total / 2);
    return { out, padBefore, padAfter: total - padBefore };
  }
  const [padBefore, padAfter] = padding === 'EXPLICIT' ? explicit : [0, 0];
  if (padding !== 'VALID' && padding !== 'EXPLICIT') throw new Error(`padding ${padding} is not supported`);
  const out = Math.floor((size + padBefore + padAfter - effectiveKernel) / stride) + 1;
  return { out, padBefore, padAfter };
}

export function normalizeAxis(axis: number, rank: number): number {
  const normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) throw new Error(`axis ${axis} outside rank ${rank}`);
  return normalized;
}

/** TF Reshape: one -1 takes what is left. */
export function resolveReshape(inputShape: readonly number[], target: readonly number[]): number[] {
  const count = inputShape.reduce((a, b) => a * b, 1);
  const known = target.filter((dim) => dim !== -1).reduce((a, b) => a * b, 1);
  const resolved = target.map((dim) => (dim === -1 ? count / known : dim));
  if (resolved.reduce((a, b) => a * b, 1) !== count) throw new Error(`cannot reshape [${inputShape}] to [${target}]`);
  return resolved;
}

export interface SliceAxis {
  start: number;
  end: number;
  step: number;
  size: number;
}

/**
 * TF StridedSlice without ellipsis/new-axis masks: per input axis the clamped start, end,
 * step and the resulting size (the shrink mask is applied by the caller).
 */
export function stridedSliceAxes(
  shape: readonly number[],
  begin: readonly number[],
  end: readonly number[],
  strides: readonly number[],
  beginMask: number,
  endMask: number,
  shrinkMask: number,
): SliceAxis[] {
  return shape.map((dim, axis) => {
    if (axis >= begin.length) return { start: 0, end: dim, step: 1, size: dim };
    const step = strides[axis] ?? 1;
    const bit = 1 << axis;
    const clamp = (value: number, low: number, high: number): number => Math.min(Math.max(value, low), high);
    let start = begin[axis]!;
    let stop = end[axis]!;
    if (shrinkMask & bit) {
      start = start < 0 ? start + dim : start;
      return { start, end: start + 1, step: 1, size: 1 };
    }
    if (step > 0) {
      start = beginMask & bit ? 0 : clamp(start < 0 ? start + dim : start, 0, dim);
      stop = endMask & bit ? dim : clamp(stop < 0 ? stop + dim : stop, 0, dim);
      return { start, end: stop, step, size: Math.max(0, Math.ceil((stop - start) / step)) };
    }
    start = beginMask & bit ? dim - 1 : clamp(start < 0 ? start + dim : start, -1, dim - 1);
    stop = endMask & bit ? -1 : clamp(stop < 0 ? stop + dim : stop, -1, dim - 1);
    return { start, end: stop, step, size: Math.max(0, Math.ceil((stop - start) / step)) };
  });
}
