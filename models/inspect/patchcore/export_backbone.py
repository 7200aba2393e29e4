"""Cut the MobileNetV3 backbone out of the CenterNet detector and turn it into a PatchCore feature extractor.

Usage: /usr/bin/python3 models/inspect/patchcore/export_backbone.py [--layers default|wide] [--project D]
       [--upscale] [--standardise] [--flat-field] [--out PATH]

The result takes the same input as the defect CNN (`image` FP32 [N, 3, H, W], RGB in [0, 1]) and returns
`features` FP32 [N, D, H/s, W/s] on the grid of the finest tapped map (s = 8, or 4 for 'shallow'; halved by --upscale): PatchCore's locally aware patch features (3x3 average pooling of each
tapped map, the stride-16 map upsampled bilinearly to the stride-8 grid, concatenated), so that the
node side only has to do the nearest-neighbour search.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, utils

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
DETECTOR = os.path.join(REPO, 'models', 'repository', 'centernet', '1', 'model.onnx')
DETECTOR_INPUT = 'tower_0/images'
# The detector's first node turns its NHWC input into this NCHW tensor: we feed it directly.
FIRST_NCHW = 'tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm/nchw_in'

# Tapped tensors: (name, channels, stride). "default" = block outputs (linear bottlenecks), as PatchCore
# taps the outputs of ResNet stages 2 and 3; "wide" = the expansion activations feeding the first block
# of the next stage (many more channels, then randomly projected).
LAYER_SETS = {
    'default': [
        ('tower_0/MobilenetV3/expanded_conv_5/add/nchw', 32, 8),
        ('tower_0/MobilenetV3/expanded_conv_11/add/nchw', 88, 16),
    ],
    # Finer: stride 4 and 8 (small receptive fields, for small defects at a 64x64 grid).
    'shallow': [
        ('tower_0/MobilenetV3/expanded_conv_2/add/nchw', 24, 4),
        ('tower_0/MobilenetV3/expanded_conv_5/add/nchw', 32, 8),
    ],
    'triple': [
        ('tower_0/MobilenetV3/expanded_conv_2/add/nchw', 24, 4),
        ('tower_0/MobilenetV3/expanded_conv_5/add/nchw', 32, 8),
        ('tower_0/MobilenetV3/expanded_conv_11/add/nchw', 88, 16),
    ],
    'wide': [
        ('tower_0/MobilenetV3/expanded_conv_6/expand/hard_swish/mul_1/nchw', 192, 8),
        ('tower_0/MobilenetV3/expanded_conv_12/expand/hard_swish/mul_1/nchw', 528, 16),
    ],
}


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


# Reflection margin (pixels of the backbone input) around the frame, cropped off the feature map again:
# without it the border and corner patches (zero padding inside every conv) are the rarest patches in
# the bank and the farthest from it, so the image score (max of the map) is mostly a corner.
MARGIN = 32


# Flat-field estimate: a window of REDUCTION * BOX (~56) pixels, much larger than a defect, smaller than
# the lamp's falloff. The padded input (256 + 2 * MARGIN, or 512 + 2 * MARGIN) is a multiple of 8.
FLAT_FIELD_REDUCTION = 8
FLAT_FIELD_BOX = 7


def input_prologue(upscale, standardise, flat_field=False):
    """Nodes from `image` ([0, 1]) to the detector's first NCHW tensor (0-255).

    upscale: bilinear 2x first, so the stride-8 grid of a 256 frame is 64x64 (4-pixel cells, as the CNN's
    map) and small defects span more than one cell.
    standardise: each frame to mean 127.5 and standard deviation 51 (0.2 of full range) over all its
    pixels, so that the camera's exposure and contrast (which vary from frame to frame) do not move
    every patch in feature space.
    """
    nodes, inits = [], [const('pc/255', np.array(255.0, dtype=np.float32))]
    current = 'image'
    if upscale:
        inits.append(const('pc/in_up2', np.array([1, 1, 2, 2], dtype=np.float32)))
        nodes.append(helper.make_node('Resize', [current, '', 'pc/in_up2'], ['pc/upscaled'], mode='linear',
                                      coordinate_transformation_mode='half_pixel', name='pc/upscale'))
        current = 'pc/upscaled'
    inits.append(const('pc/margin', np.array([0, 0, MARGIN, MARGIN, 0, 0, MARGIN, MARGIN], dtype=np.int64)))
    nodes.append(helper.make_node('Pad', [current, 'pc/margin'], ['pc/padded'], mode='reflect', name='pc/pad'))
    current = 'pc/padded'
    if flat_field:
        # Divide by a local mean: the camera's lighting gradient is multiplicative. The mean is taken on
        # an 8x-reduced copy (8x8 block means, then a 7x7 box = ~56-pixel window) and spread back
        # bilinearly: a 63x63 AveragePool at full size cost ~25 ms of one core.
        inits += [const('pc/flat_eps', np.array(0.02, dtype=np.float32)),
                  const('pc/flat_up', np.array([1, 1, FLAT_FIELD_REDUCTION, FLAT_FIELD_REDUCTION], dtype=np.float32))]
        box = FLAT_FIELD_BOX
        nodes += [
            helper.make_node('AveragePool', [current], ['pc/blocks'], kernel_shape=[FLAT_FIELD_REDUCTION] * 2,
                             strides=[FLAT_FIELD_REDUCTION] * 2, name='pc/flat_blocks'),
            helper.make_node('AveragePool', ['pc/blocks'], ['pc/blocks_mean'], kernel_shape=[box, box],
                             pads=[box // 2] * 4, count_include_pad=0, name='pc/flat_box'),
            helper.make_node('Resize', ['pc/blocks_mean', '', 'pc/flat_up'], ['pc/local_mean'], mode='linear',
                             coordinate_transformation_mode='half_pixel', name='pc/flat_spread'),
            helper.make_node('Add', ['pc/local_mean', 'pc/flat_eps'], ['pc/local_mean_eps']),
            helper.make_node('Div', [current, 'pc/local_mean_eps'], ['pc/flat']),
        ]
        current = 'pc/flat'
    if standardise:
        inits += [const('pc/eps', np.array(1e-6, dtype=np.float32)),
                  const('pc/target_std', np.array(51.0, dtype=np.float32)),
                  const('pc/target_mean', np.array(127.5, dtype=np.float32))]
        nodes += [
            helper.make_node('ReduceMean', [current], ['pc/mean'], axes=[1, 2, 3], keepdims=1),
            helper.make_node('Sub', [current, 'pc/mean'], ['pc/centred']),
            helper.make_node('Mul', ['pc/centred', 'pc/centred'], ['pc/squares']),
            helper.make_node('ReduceMean', ['pc/squares'], ['pc/variance'], axes=[1, 2, 3], keepdims=1),
            helper.make_node('Add', ['pc/variance', 'pc/eps'], ['pc/variance_eps']),
            helper.make_node('Sqrt', ['pc/variance_eps'], ['pc/std']),
            helper.make_node('Div', ['pc/centred', 'pc/std'], ['pc/unit']),
            helper.make_node('Mul', ['pc/unit', 'pc/target_std'], ['pc/spread']),
            helper.make_node('Add', ['pc/spread', 'pc/target_mean'], [FIRST_NCHW]),
        ]
    else:
        nodes.append(helper.make_node('Mul', [current, 'pc/255'], [FIRST_NCHW], name='pc/to_bytes'))
    return nodes, inits


def build(layer_set, projected_dims, upscale, standardise, flat_field, out_path, tmp_path):
    layers = LAYER_SETS[layer_set]
    utils.extract_model(DETECTOR, tmp_path, [DETECTOR_INPUT], [name for name, _, _ in layers])
    model = onnx.load(tmp_path)
    os.remove(tmp_path)
    graph = model.graph

    # The squeeze-excite gates are spread to the map size by a Resize with scales fixed for a 512 input;
    # Mul broadcasts a [N, C, 1, 1] gate by itself, so dropping the Resize makes any input size work.
    renamed = {}
    kept = []
    for node in graph.node:
        if node.op_type == 'Resize' and node.output[0].endswith('gate_spread'):
            renamed[node.output[0]] = node.input[0]
        elif node.op_type == 'Transpose' and node.output[0] == FIRST_NCHW:
            continue
        else:
            kept.append(node)
    for node in kept:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]

    # Same input contract as the defect CNN; the detector wants 0-255.
    prologue, initializers = input_prologue(upscale, standardise, flat_field)
    finest = min(stride for _, _, stride in layers)

    epilogue = []
    pooled = []
    for index, (name, _, stride) in enumerate(layers):
        # Local neighbourhood aggregation (PatchCore eq. 2): 3x3 average, same size, edges not zero-padded.
        pool = f'pc/pool{index}'
        epilogue.append(helper.make_node('AveragePool', [name], [pool], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                         strides=[1, 1], count_include_pad=0, name=pool))
        if stride > finest:
            up = f'pc/up{index}'
            factor = float(stride // finest)
            initializers.append(const(f'pc/scales{index}', np.array([1, 1, factor, factor], dtype=np.float32)))
            epilogue.append(helper.make_node('Resize', [pool, '', f'pc/scales{index}'], [up], mode='linear',
                                             coordinate_transformation_mode='half_pixel', name=up))
            pool = up
        pooled.append(pool)
    total = sum(channels for _, channels, _ in layers)
    concat_out = 'pc/cropped' if projected_dims == 0 else 'pc/concat'
    epilogue.append(helper.make_node('Concat', pooled, ['pc/uncropped'], axis=1, name='pc/concat'))
    cells = MARGIN // finest
    initializers += [const('pc/crop_starts', np.array([cells, cells], dtype=np.int64)),
                     const('pc/crop_ends', np.array([-cells, -cells], dtype=np.int64)),
                     const('pc/crop_axes', np.array([2, 3], dtype=np.int64))]
    epilogue.append(helper.make_node('Slice', ['pc/uncropped', 'pc/crop_starts', 'pc/crop_ends', 'pc/crop_axes'],
                                     [concat_out], name='pc/crop'))
    if projected_dims == 0:
        epilogue.append(helper.make_node('Identity', [concat_out], ['features'], name='pc/features'))
    dims = total
    if projected_dims:
        # Johnson-Lindenstrauss projection (seeded Gaussian): keeps distances, cuts search cost.
        rng = np.random.default_rng(0)
        weight = rng.standard_normal((projected_dims, total, 1, 1)).astype(np.float32) / np.sqrt(projected_dims)
        initializers.append(const('pc/projection', weight))
        epilogue.append(helper.make_node('Conv', ['pc/concat', 'pc/projection'], ['features'], name='pc/project'))
        dims = projected_dims

    del graph.node[:]
    graph.node.extend(prologue + kept + epilogue)
    graph.initializer.extend(initializers)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', 3, 'H', 'W']))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info('features', TensorProto.FLOAT, ['N', dims, 'h', 'w']))
    del graph.value_info[:]
    # The dropped Resize nodes leave their scale constants behind; ORT warns about each one.
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    graph.name = f'patchcore-backbone-{layer_set}'
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    print(f'{out_path}: {os.path.getsize(out_path)} bytes, {dims}-dim features on the stride-{finest // (2 if upscale else 1)} '
          f'grid of the input ({layer_set}, standardise={standardise})')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--layers', choices=sorted(LAYER_SETS), default='default')
    parser.add_argument('--project', type=int, default=0, help='random projection to this many dims (0 = none)')
    parser.add_argument('--upscale', action='store_true', help='bilinear 2x before the backbone (64x64 grid)')
    parser.add_argument('--standardise', action='store_true', help='per-frame mean/std normalisation')
    parser.add_argument('--flat-field', action='store_true', help='divide by a ~56x56 local mean (lighting)')
    parser.add_argument('--out', default=os.path.join(HERE, 'backbone.onnx'))
    args = parser.parse_args()
    build(args.layers, args.project, args.upscale, args.standardise, args.flat_field, args.out, args.out + '.extract.tmp')


if __name__ == '__main__':
    main()
