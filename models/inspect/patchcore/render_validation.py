"""A small labelled VALIDATION-split set for choosing PatchCore's options (never the test split).

Usage: /usr/bin/python3 models/inspect/patchcore/render_validation.py --out DIR [--per-surface 40]

Same manifest format as models/inspect/heldout.py (frames only, no masks), frames from helper A's
dataset.make_frame(surface, 'val', ...), so option choices never look at held-out test material.
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--per-surface', type=int, default=40)
    args = parser.parse_args()
    os.makedirs(os.path.join(args.out, 'frames'), exist_ok=True)
    rng = np.random.default_rng(98)
    manifest = []
    for surface in SURFACES:
        for index in range(args.per_surface):
            frame = make_frame(surface, 'val', rng)
            name = f'frames/{surface}-{index}.png'
            Image.fromarray(frame['pixels']).save(os.path.join(args.out, name))
            manifest.append({'file': name, 'surface': surface,
                             'defect': frame['defects'][0]['kind'] if frame['defects'] else None,
                             'boxes': [defect['box'] for defect in frame['defects']], 'mask': None})
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    print(f'{args.out}: {len(manifest)} validation frames')


if __name__ == '__main__':
    main()
