/**
 * ResizeBilinear (NHWC) as ONNX Resize, linear, with the coordinate mapping TF uses:
 * align_corners -> "align_corners"; half_pixel_centers -> "half_pixel" (TF clamps the source
 * coordinate at the borders as onnxruntime does); neither -> "asymmetric" (x_in = x_out * in/out).
 * Resize runs on NHWC directly (scales 1 on N and C).
 */
import type { ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import { attrBool, type TfNode } from '../tfjs-graph.ts';
import { toNumbers } from '../tensor.ts';

export function convertResizeBilinear(ctx: ConversionContext, node: TfNode): void {
  const x = ctx.input(node, 0);
  const [height, width] = toNumbers(ctx.constInput(node, 1, 'size')) as [number, number];
  const [batch, , , channels] = x.shape as [number, number, number, number];
  const mode = attrBool(node, 'align_corners') ? 'align_corners' : attrBool(node, 'half_pixel_centers') ? 'half_pixel' : 'asymmetric';
  const sizes = ctx.int64Constant(`${node.name}/sizes`, [batch, height, width, channels]);
  ctx.emit('Resize', [ctx.use(x), '', '', sizes], [node.name], [
    attr.string('mode', 'linear'),
    attr.string('coordinate_transformation_mode', mode),
  ]);
  ctx.define(node.name, { onnx: node.name, dtype: x.dtype, shape: [batch, height, width, channels] });
}
