"""Contact sheet of the least visible defects the renderer accepts, to judge the visibility rule.

  /usr/bin/python3 models/inspect/visibility_sheet.py [--surfaces gravel,grass] [--draws 400] [--out /tmp/inspect-sheets]

For each surface: `draws` defects (kinds in turn) on validation-split material, ranked by
contrast = mean brightness change / std of the surface around the defect; the 40 lowest go on
one sheet, 8 per kind (stains have a lower floor and would fill it alone), a row per kind.
Each tile: the damaged surface around the defect (2x), and beside it the same with
the mask outlined in red, so one first looks without the answer and then checks it.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from defects import DEFECT_TYPES, draw_visible_defect  # noqa: E402
from surfaces import surface_frame  # noqa: E402

TILE = 96
SHOWN = 40
COLUMNS = 4  # two rows per kind


def tile(damaged, mask):
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    cy, cx = (rows[0] + rows[-1]) // 2, (cols[0] + cols[-1]) // 2
    size = damaged.shape[0]
    y0 = int(np.clip(cy - TILE // 2, 0, size - TILE))
    x0 = int(np.clip(cx - TILE // 2, 0, size - TILE))
    crop = (np.clip(damaged[y0:y0 + TILE, x0:x0 + TILE], 0, 1) * 255).astype(np.uint8)
    edge = mask & ~ndimage.binary_erosion(mask)
    outlined = crop.copy()
    outlined[edge[y0:y0 + TILE, x0:x0 + TILE]] = (255, 0, 0)
    pair = np.concatenate([crop, np.full((TILE, 4, 3), 255, np.uint8), outlined], axis=1)
    return np.asarray(Image.fromarray(pair).resize((pair.shape[1] * 2, TILE * 2), Image.NEAREST))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--surfaces", default="gravel,grass")
    parser.add_argument("--draws", type=int, default=400)
    parser.add_argument("--out", default="/tmp/inspect-sheets")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for surface in args.surfaces.split(","):
        rng = np.random.default_rng(5)
        found = []
        for index in range(args.draws):
            kind = DEFECT_TYPES[index % len(DEFECT_TYPES)]
            frame = surface_frame(surface, "val", rng)
            damaged, mask, change, texture = draw_visible_defect(frame, kind, rng)
            if mask.sum() >= 4:
                found.append((change / max(texture, 1e-6), change, kind, damaged, mask))
        found.sort(key=lambda item: item[0])
        lowest = [item for kind in DEFECT_TYPES
                  for item in [entry for entry in found if entry[2] == kind][:SHOWN // len(DEFECT_TYPES)]]
        tiles = [tile(damaged, mask) for _, _, _, damaged, mask in lowest]
        rows = [np.concatenate(tiles[i:i + COLUMNS], axis=1) for i in range(0, len(tiles), COLUMNS)]
        sheet = np.concatenate([np.pad(r, ((0, 6), (0, 0), (0, 0)), constant_values=255) for r in rows])
        path = os.path.join(args.out, f"{surface}.png")
        Image.fromarray(sheet).save(path)
        ratios = np.array([item[0] for item in found])
        print(path, "lowest 40:", [f"{k}:{r:.2f}/{c:.2f}" for r, c, k, _, _ in lowest])
        for kind in DEFECT_TYPES:
            share = np.array([item[0] for item in found if item[2] == kind])
            print(f"  {kind}: contrast/std quartiles {np.percentile(share, [10, 25, 50]).round(2)}")
        print(f"  all: {np.mean(ratios < 1.5):.2f} below 1.5x")


if __name__ == "__main__":
    main()
