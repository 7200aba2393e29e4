"""Write the held-out inspection set (test-split pixels and seeds only, never seen in training).

  /usr/bin/python3 models/inspect/heldout.py --out DIR [--per-surface 200]

DIR/frames/<surface>-<i>.png   256x256 RGB frame
DIR/masks/<surface>-<i>.png    8-bit mask (255 = defect), defective frames only
DIR/manifest.json              [{file, surface, defect, boxes, mask}]

Even indices are defect-free; odd ones carry one defect (sometimes two of the same kind), the
kinds taking turns so every surface gets the same number of each.
"""
import argparse
import json
import multiprocessing
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dataset import make_frame  # noqa: E402
from defects import DEFECT_TYPES  # noqa: E402
from surfaces import SURFACES  # noqa: E402

HELDOUT_SEED = 777


def heldout_frames(surface, per_surface):
    """Yields (index, frame) for one surface, deterministically."""
    rng = np.random.default_rng([HELDOUT_SEED, SURFACES.index(surface)])
    for index in range(per_surface):
        defective = index % 2 == 1
        kind = DEFECT_TYPES[(index // 2) % len(DEFECT_TYPES)] if defective else None
        yield index, make_frame(surface, "test", rng, defect_kind=kind, defective=defective)


def write_surface(job):
    out, surface, per_surface = job
    entries = []
    for index, frame in heldout_frames(surface, per_surface):
        name = f"{surface}-{index}.png"
        Image.fromarray(frame["pixels"]).save(os.path.join(out, "frames", name))
        mask_file = None
        if frame["defects"]:
            mask_file = "masks/" + name
            Image.fromarray(frame["mask"].astype(np.uint8) * 255).save(os.path.join(out, mask_file))
        entries.append({
            "file": "frames/" + name,
            "surface": surface,
            "defect": frame["defects"][0]["kind"] if frame["defects"] else None,
            "boxes": [defect["box"] for defect in frame["defects"]],
            "mask": mask_file,
        })
    return entries


def main():
    parser = argparse.ArgumentParser(description="Write the held-out defect-inspection set.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-surface", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for folder in ("frames", "masks"):
        os.makedirs(os.path.join(args.out, folder), exist_ok=True)
    jobs = [(args.out, surface, args.per_surface) for surface in SURFACES]
    with multiprocessing.Pool(args.workers) as pool:
        manifest = [entry for entries in pool.map(write_surface, jobs) for entry in entries]
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    defective = sum(1 for entry in manifest if entry["defect"])
    print(f"{len(manifest)} frames ({defective} defective) in {args.out}")


if __name__ == "__main__":
    main()
