/** Activations, standalone or fused into a convolution. */
import { ConversionError, type ConversionContext } from '../context.ts';
import { attr } from '../onnx-ir.ts';
import type { TfNode } from '../tfjs-graph.ts';
import type { ConstTensor } from '../tensor.ts';

export interface ActivationParams {
  leakyAlpha?: number;
  preluSlope?: ConstTensor | undefined;
}

/** Emits `activation` on `input`, writing `output` (fresh when not given); returns the output name. */
export function emitActivation(
  ctx: ConversionContext,
  node: TfNode,
  activation: string,
  input: string,
  params: ActivationParams,
  output = ctx.fresh(`${node.name}/${activation.toLowerCase()}`),
): string {
  switch (activation) {
    case 'Relu':
      ctx.emit('Relu', [input], [output]);
      break;
    case 'Relu6':
      ctx.emit('Clip', [input, ctx.floatScalar(`${node.name}/clip_min`, 0), ctx.floatScalar(`${node.name}/clip_max`, 6)], [output]);
      break;
    case 'Sigmoid':
      ctx.emit('Sigmoid', [input], [output]);
      break;
    case 'LeakyRelu':
      ctx.emit('LeakyRelu', [input], [output], [attr.float('alpha', params.leakyAlpha ?? 0.2)]);
      break;
    case 'Prelu':
      if (!params.preluSlope) throw new ConversionError(node, 'PReLU slope must be constant');
      ctx.emit('PRelu', [input, ctx.constant(`${node.name}/prelu_slope`, params.preluSlope)], [output]);
      break;
    default:
      throw new ConversionError(node, `activation ${activation} is not supported`);
  }
  return output;
}
