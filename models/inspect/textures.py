"""Write the camera simulator's base textures: one PNG per surface of TEST-split material.

  /usr/bin/python3 models/inspect/textures.py   # -> models/inspect/textures/<surface>.png

Photos: the test region (bottom-right 256x256: rows and columns 256..511) as RGB. Procedural surfaces: a
512x512 render from a test-range seed.
"""
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from surfaces import PHOTO_SURFACES, SEED_RANGES, SURFACES, metal_frame, photo_region, textile_frame  # noqa: E402

TEXTURE_SIZE = 512
TEXTURE_SEED = SEED_RANGES["test"][0] + 4242
PROCEDURAL = {"metal": metal_frame, "textile": textile_frame}


def texture(surface):
    if surface in PHOTO_SURFACES:
        gray = photo_region(surface, "test")
        return np.repeat(gray[:, :, None], 3, axis=2)
    return PROCEDURAL[surface](np.random.default_rng(TEXTURE_SEED), TEXTURE_SIZE)


def main():
    out = os.path.join(HERE, "textures")
    os.makedirs(out, exist_ok=True)
    for surface in SURFACES:
        pixels = (np.clip(texture(surface), 0, 1) * 255 + 0.5).astype(np.uint8)
        path = os.path.join(out, surface + ".png")
        Image.fromarray(pixels).save(path, optimize=True)
        print(f"{path}: {pixels.shape[1]}x{pixels.shape[0]}, {os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    main()
