"""Defect-free frames for PatchCore: the memory bank (train split) and calibration frames (validation split).

Usage: /usr/bin/python3 models/inspect/patchcore/render_normals.py --out DIR [--bank N] [--calibration N]

Frames come from helper A's renderer (models/inspect/dataset.py make_frame with defective=False: surface +
camera effects; imported, not copied), so the bank sees exactly the material and camera variation the CNN
trains on, and never the test split.
Writes DIR/<split>/<surface>-<i>.png (256x256 RGB) and DIR/normals.json listing them.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from dataset import make_frame  # noqa: E402  (helper A's module, one directory up)
from surfaces import SURFACES  # noqa: E402


def render(out_dir, split, count, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    files = {}
    for surface in SURFACES:
        names = []
        for index in range(count):
            pixels = make_frame(surface, split, rng, defective=False)['pixels']
            name = f'{split}/{surface}-{index}.png'
            Image.fromarray(pixels).save(os.path.join(out_dir, name))
            names.append(name)
        files[surface] = names
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--bank', type=int, default=60, help='train-split frames per surface')
    parser.add_argument('--calibration', type=int, default=30, help='validation-split frames per surface')
    args = parser.parse_args()
    listing = {
        'bank': render(args.out, 'train', args.bank, seed=11),
        'calibration': render(args.out, 'val', args.calibration, seed=12),
    }
    with open(os.path.join(args.out, 'normals.json'), 'w') as f:
        json.dump(listing, f, indent=1)
    print(f'{args.out}: {args.bank} bank + {args.calibration} calibration frames per surface')


if __name__ == '__main__':
    main()
