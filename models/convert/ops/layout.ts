/**
 * TF.js graphs here are NHWC; ONNX Conv/MaxPool want NCHW. Each such op is wrapped in a pair
 * of Transposes; optimize.ts cancels the pairs that meet between consecutive convolutions.
 */
import type { ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

export function transpose(ctx: ConversionContext, input: string, perm: number[], output: string): string {
  ctx.emit('Transpose', [input], [output], [attr.ints('perm', perm)]);
  return output;
}

export function toNchw(ctx: ConversionContext, input: string, base: string): string {
  return transpose(ctx, input, NHWC_TO_NCHW, ctx.fresh(`${base}/nchw_in`));
}

export function toNhwc(ctx: ConversionContext, input: string, output: string): string {
  return transpose(ctx, input, NCHW_TO_NHWC, output);
}
