"""Labelled camera frames: surface + 0-2 defects + camera, and cached arrays for training."""
import numpy as np

from camera import capture
from defects import DEFECT_TYPES, add_defect, mask_box
from surfaces import SURFACES, surface_frame

CELL = 4  # the defect map's stride


def make_frame(surface, split, rng, defect_kind=None, defective=None, procedural=False):
    """One frame: returns dict(pixels uint8 HxWx3, mask bool HxW, defects [{kind, box}]).

    Half the frames are defect-free unless `defective` says otherwise; a defective frame has one
    defect (a quarter of them a second one), all of `defect_kind` if given, else of random kinds.
    """
    surface_rgb = surface_frame(surface, split, rng, procedural)
    if defective is None:
        defective = rng.random() < 0.5
    mask = np.zeros(surface_rgb.shape[:2], bool)
    defects = []
    if defective:
        count = 2 if rng.random() < 0.25 else 1
        for index in range(count):
            kind = defect_kind or DEFECT_TYPES[rng.integers(len(DEFECT_TYPES))]
            damaged, defect_mask = add_defect(surface_rgb, kind, rng)
            if defect_mask.sum() < 4:
                continue  # drawn off the frame or too faint to count as a defect
            surface_rgb = damaged
            mask |= defect_mask
            defects.append({"kind": kind, "box": mask_box(defect_mask)})
    return {"pixels": capture(surface_rgb, rng), "mask": mask, "defects": defects}


def cell_targets(mask):
    """Per-cell label at stride 4: 1 if any pixel of the cell is defect."""
    h, w = mask.shape
    return mask.reshape(h // CELL, CELL, w // CELL, CELL).any(axis=(1, 3))


def build_surface_arrays(split, surface_index, per_surface, seed, procedural=False):
    """Deterministic frames of one surface: odd indices defective, even ones defect-free."""
    rng = np.random.default_rng([seed, surface_index])
    images, cells, kinds = [], [], []
    for index in range(per_surface):
        frame = make_frame(SURFACES[surface_index], split, rng, defective=(index % 2 == 1),
                           procedural=procedural)
        images.append(frame["pixels"])
        cells.append(cell_targets(frame["mask"]))
        kinds.append(DEFECT_TYPES.index(frame["defects"][0]["kind"]) if frame["defects"] else -1)
    kinds = np.array(kinds, np.int64)
    return {"images": np.stack(images), "cells": np.stack(cells).astype(np.uint8),
            "labels": (kinds >= 0).astype(np.int64), "surfaces": np.full(per_surface, surface_index),
            "kinds": kinds}


def concatenate(parts):
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
