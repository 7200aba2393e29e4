"""One ONNX graph per surface: PatchCore feature extractor + nearest-neighbour search against that surface's bank.

Usage: /usr/bin/python3 models/inspect/patchcore/export_scorer.py --banks DIR [--backbone PATH] [--out DIR]

Input  `image`       FP32 [N, 3, H, W], RGB in [0, 1] (same contract as the defect CNN)
Output `anomaly_map` FP32 [N, 1, H/8, W/8]: distance of each patch to its nearest normal patch
Output `score`       FP32 [N]: max of the map (PatchCore's image score)
Squared distances as |a|^2 - 2 a.b + |b|^2, so the search is one MatMul against the bank initializer
and a ReduceMin: the service can serve a surface like any other model.
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def build(backbone_path, bank, surface, out_path):
    model = onnx.load(backbone_path)
    graph = model.graph
    bank_t = np.ascontiguousarray(bank.T.astype(np.float32))  # [dims, M]
    graph.initializer.extend([
        numpy_helper.from_array(bank_t, 'nn/bank_t'),
        numpy_helper.from_array((bank.astype(np.float32) ** 2).sum(axis=1), 'nn/bank_sq'),
        numpy_helper.from_array(np.array(-2.0, dtype=np.float32), 'nn/minus2'),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), 'nn/zero'),
        numpy_helper.from_array(np.array([1], dtype=np.int64), 'nn/axis1'),
    ])
    graph.node.extend([
        helper.make_node('Transpose', ['features'], ['nn/nhwc'], perm=[0, 2, 3, 1]),
        helper.make_node('ReduceSumSquare', ['nn/nhwc'], ['nn/query_sq'], axes=[-1], keepdims=1),
        helper.make_node('MatMul', ['nn/nhwc', 'nn/bank_t'], ['nn/dot']),
        helper.make_node('Mul', ['nn/dot', 'nn/minus2'], ['nn/dot2']),
        helper.make_node('Add', ['nn/dot2', 'nn/query_sq'], ['nn/partial']),
        helper.make_node('Add', ['nn/partial', 'nn/bank_sq'], ['nn/squared']),
        helper.make_node('ReduceMin', ['nn/squared'], ['nn/nearest_sq'], axes=[-1], keepdims=0),
        # Rounding can make |a|^2 - 2ab + |b|^2 slightly negative for a patch equal to a bank entry.
        helper.make_node('Max', ['nn/nearest_sq', 'nn/zero'], ['nn/clamped']),
        helper.make_node('Sqrt', ['nn/clamped'], ['nn/distance']),
        helper.make_node('Unsqueeze', ['nn/distance', 'nn/axis1'], ['anomaly_map']),
        helper.make_node('ReduceMax', ['anomaly_map'], ['score'], axes=[1, 2, 3], keepdims=0),
    ])
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info('anomaly_map', TensorProto.FLOAT, ['N', 1, 'h', 'w']),
        helper.make_tensor_value_info('score', TensorProto.FLOAT, ['N']),
    ])
    graph.name = f'patchcore-{surface}'
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    return os.path.getsize(out_path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--banks', required=True, help='directory written by build-banks.ts')
    parser.add_argument('--backbone', default=os.path.join(HERE, 'backbone.onnx'))
    parser.add_argument('--out', default=None, help='output directory (default: the banks directory)')
    args = parser.parse_args()
    out_dir = args.out or args.banks
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(args.banks, 'banks.json')) as f:
        meta = json.load(f)
    for surface, info in meta['surfaces'].items():
        bank = np.fromfile(os.path.join(args.banks, surface + '.f32'), dtype='<f4').reshape(info['bankSize'], meta['dims'])
        path = os.path.join(out_dir, f'patchcore-{surface}.onnx')
        print(f'{path}: bank {bank.shape[0]} x {bank.shape[1]}, {build(args.backbone, bank, surface, path)} bytes')


if __name__ == '__main__':
    main()
