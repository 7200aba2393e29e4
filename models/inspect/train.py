"""Train the defect-inspection net, pick thresholds on validation, export ONNX, write the card.

  /usr/bin/python3 models/inspect/train.py            # ~13-14 min (data on 2 processes, training on 1 thread)

Data: generated deterministically (dataset.py) and cached in /tmp/inspect-cache (keyed by the
generator sources, so editing a renderer regenerates). Training: stride-4 cell BCE + dice on
defective frames + image-level BCE; first on 128x128 crops (4x cheaper per step, same
statistics per cell), then on whole 256x256 frames so the image score sees the frame size the
service runs.
"""
import argparse
import datetime
import hashlib
import json
import multiprocessing
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.dirname(HERE))

from dataset import build_surface_arrays, cell_targets, concatenate  # noqa: E402
from defects import DEFECT_TYPES  # noqa: E402
from metrics import auroc, hit_count, threshold_for_false_alarms  # noqa: E402
from net import DefectNet, ExportWrapper, count_parameters  # noqa: E402
from online_spots import add_online_spot  # noqa: E402
from surfaces import SURFACES, skimage_package_version  # noqa: E402
from progress import Progress  # noqa: E402  (models/progress.py: a bar on a terminal, plain lines otherwise)

REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = "/tmp/inspect-cache"
HARD_SURFACE_WEIGHT = 2.0
GENERATOR_SOURCES = ("surfaces.py", "procedural_ground.py", "defects.py", "camera.py", "dataset.py")
PROCEDURAL_SURFACES = ("gravel", "grass")


def generator_fingerprint():
    digest = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        with open(os.path.join(HERE, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:12]


def _build(job):
    return build_surface_arrays(*job)


def cache_path(split, per_surface, seed, surface, procedural=False):
    material = "-procedural" if procedural else ""
    return os.path.join(CACHE, f"{split}{material}-{surface}-{per_surface}-{seed}-{generator_fingerprint()}.npz")


def build_missing(requests, workers):
    """Renders the (split, per_surface, seed, surfaces, procedural) sets not cached yet, all in
    one pool: a specialist's training and validation frames are drawn side by side.

    Cached one file per surface: a surface's frames depend only on (split, surface, count, seed),
    so a specialist builds and reads its own surface alone and gets the very frames the
    all-surface model trains on."""
    os.makedirs(CACHE, exist_ok=True)
    jobs = [(split, SURFACES.index(name), per_surface, seed, procedural)
            for split, per_surface, seed, names, procedural in requests for name in names
            if not os.path.exists(cache_path(split, per_surface, seed, name, procedural))]
    if not jobs:
        return
    with multiprocessing.Pool(min(workers, len(jobs))) as pool:
        for job, arrays in zip(jobs, pool.map(_build, jobs)):
            split, surface_index, per_surface, seed, procedural = job
            np.savez(cache_path(split, per_surface, seed, SURFACES[surface_index], procedural), **arrays)


def cached_arrays(split, per_surface, seed, workers, procedural=False, surfaces=None):
    """Frames of `surfaces` (default every one; procedural=True: procedural gravel and grass)."""
    names = surfaces or (PROCEDURAL_SURFACES if procedural else SURFACES)
    build_missing([(split, per_surface, seed, names, procedural)], workers)
    parts = []
    for name in names:
        with np.load(cache_path(split, per_surface, seed, name, procedural)) as data:
            parts.append({key: data[key] for key in data.files})
    return concatenate(parts)


def to_tensor(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def dihedral(images, cells, rng):
    """Same random rotation/flip for a whole batch: free augmentation of the cached frames."""
    k = int(rng.integers(0, 4))
    images, cells = torch.rot90(images, k, (2, 3)), torch.rot90(cells, k, (1, 2))
    if rng.random() < 0.5:
        images, cells = images.flip(3), cells.flip(2)
    return images, cells


def with_online_spots(images, cells, rate, rng):
    """A fresh spot (online_spots.py) on each defect-free crop with probability `rate`."""
    images, cells = images.copy(), cells.copy()
    for row in range(len(images)):
        if cells[row].any() or rng.random() >= rate:
            continue
        image = images[row].astype(np.float32) / 255.0
        mask = add_online_spot(image, rng)
        if mask is None:
            continue
        images[row] = (image * 255.0 + 0.5).astype(np.uint8)
        cells[row] |= cell_targets(mask).astype(np.uint8)
    return images, cells


def batch_crops(data, indices, crop, rng, online_spot_rate=0.0):
    """crop x crop windows at cell-aligned offsets; crop == 256 keeps whole frames."""
    images = data["images"][indices]
    cells = data["cells"][indices]
    if crop < images.shape[1]:
        cell_crop = crop // 4
        max_offset = images.shape[1] // 4 - cell_crop
        out_images = np.empty((len(indices), crop, crop, 3), np.uint8)
        out_cells = np.empty((len(indices), cell_crop, cell_crop), np.uint8)
        for row in range(len(indices)):
            positive = np.argwhere(cells[row])
            if len(positive) and rng.random() < 0.7:
                # Keep the defect in view most of the time, anywhere in the window.
                centre = positive[rng.integers(len(positive))]
                oy = int(np.clip(centre[0] - rng.integers(0, cell_crop), 0, max_offset))
                ox = int(np.clip(centre[1] - rng.integers(0, cell_crop), 0, max_offset))
            else:
                oy, ox = rng.integers(0, max_offset + 1, 2)
            out_images[row] = images[row, oy * 4:(oy + cell_crop) * 4, ox * 4:(ox + cell_crop) * 4]
            out_cells[row] = cells[row, oy:oy + cell_crop, ox:ox + cell_crop]
        images, cells = out_images, out_cells
    if online_spot_rate > 0:
        images, cells = with_online_spots(images, cells, online_spot_rate, rng)
    image_tensor = to_tensor(images)
    cell_tensor = torch.from_numpy(cells).float()
    return dihedral(image_tensor, cell_tensor, rng)


POSITIVE_WEIGHT = 4.0


def positive_weights(cells, balance_cells):
    """Weight of a defect cell, per frame. Plain: POSITIVE_WEIGHT. Balanced (balance_cells > 0):
    scaled by balance_cells / (defect cells in the frame), within [1/4, 4], so a 6-cell spot
    pulls about as hard as a 300-cell stain; unbalanced, the large kinds own the positive
    gradient and the net never learnt light spots on gravel (found 38 % of its own training
    spots, dark ones 78 %)."""
    if balance_cells <= 0:
        return torch.full((cells.shape[0], 1, 1), POSITIVE_WEIGHT)
    counts = cells.sum(dim=(1, 2), keepdim=True).clamp(min=1.0)
    return POSITIVE_WEIGHT * (balance_cells / counts).clamp(0.25, 4.0)


def loss_fn(map_logits, score_logit, cells, balance_cells=0.0):
    logits = map_logits[:, 0]
    labels = (cells.flatten(1).amax(dim=1) > 0).float()
    weights = positive_weights(cells, balance_cells)
    cell_bce = -(weights * cells * F.logsigmoid(logits) + (1 - cells) * F.logsigmoid(-logits)).mean()
    probabilities = torch.sigmoid(logits)
    intersection = (probabilities * cells).sum(dim=(1, 2))
    dice = 1 - (2 * intersection + 1) / (probabilities.sum(dim=(1, 2)) + cells.sum(dim=(1, 2)) + 1)
    dice = (dice * labels).sum() / labels.sum().clamp(min=1)
    image_bce = F.binary_cross_entropy_with_logits(score_logit, labels)
    return cell_bce + 0.5 * dice + image_bce


def predict(net, images, batch=32):
    net.eval()
    maps, scores = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            map_logits, score_logit = net(to_tensor(images[start:start + batch]))
            maps.append(torch.sigmoid(map_logits[:, 0]).numpy())
            scores.append(torch.sigmoid(score_logit).numpy())
    return np.concatenate(maps), np.concatenate(scores)


def cell_boxes(cells):
    """True defect boxes (pixels) from stride-4 cells, for validation hit rates."""
    from metrics import regions
    return regions(cells.astype(np.float32), 0.5)


def choose_region_threshold(maps, data):
    """The per-cell threshold that best separates: defects found vs good frames with a region."""
    best = None
    defective = np.flatnonzero(data["labels"] == 1)
    good = np.flatnonzero(data["labels"] == 0)
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        hits = total = 0
        for index in defective:
            boxes = cell_boxes(data["cells"][index])
            hits += hit_count(maps[index], boxes, threshold)
            total += len(boxes)
        hit_rate = hits / max(total, 1)
        false_regions = float(np.mean([(maps[index] > threshold).any() for index in good]))
        merit = hit_rate - false_regions
        if best is None or merit > best[0]:
            best = (merit, threshold, hit_rate, false_regions)
    return best[1], best[2], best[3]


def validation_report(net, data, false_alarm_rate):
    maps, scores = predict(net, data["images"])
    surfaces = {}
    for index, surface in enumerate(SURFACES):
        rows = data["surfaces"] == index
        if not rows.any():
            continue
        labels = data["labels"][rows]
        threshold, far = threshold_for_false_alarms(scores[rows][labels == 0], false_alarm_rate)
        surfaces[surface] = {
            "threshold": round(threshold, 6),
            "falseAlarmRate": round(far, 4),
            "validationAuroc": round(auroc(scores[rows], labels), 4),
            "detectionRate": round(float(np.mean(scores[rows][labels == 1] > threshold)), 4),
        }
    per_kind = {kind: round(auroc(scores[(data["kinds"] == k) | (data["labels"] == 0)],
                                  data["labels"][(data["kinds"] == k) | (data["labels"] == 0)]), 4)
                for k, kind in enumerate(DEFECT_TYPES)}
    region_threshold, hit_rate, false_regions = choose_region_threshold(maps, data)
    return surfaces, per_kind, region_threshold, hit_rate, false_regions


def sampling_weights(train, procedural_share, hard_surface_weight=HARD_SURFACE_WEIGHT):
    """Per-frame probability of being drawn: each surface gets its share of the batches, and
    procedural_share of gravel's and grass's goes to their procedural frames."""
    # Gravel and grass are the hard surfaces (a first run: validation AUROC 0.58 / 0.63 vs
    # 0.91-0.94 elsewhere); they get a larger share of the batches.
    weights = np.zeros(len(train["images"]))
    for index, name in enumerate(SURFACES):
        surface_total = hard_surface_weight if name in PROCEDURAL_SURFACES else 1.0
        for procedural, share in ((False, 1.0 - procedural_share), (True, procedural_share)):
            if name not in PROCEDURAL_SURFACES:
                share = 0.0 if procedural else 1.0
            rows = (train["surfaces"] == index) & (train["procedural"] == procedural)
            if rows.any():
                weights[rows] = surface_total * share / rows.sum()
    return weights / weights.sum()


def weight_kinds(weights, kinds, kind_weights):
    """Frames whose (first) defect is of a kind in kind_weights are drawn that many times as often:
    spots and thin scratches are the kinds the net fits last."""
    weights = weights.copy()
    for kind, factor in kind_weights.items():
        weights[kinds == DEFECT_TYPES.index(kind)] *= factor
    return weights / weights.sum()


def parse_kind_weights(text):
    """'spot=2,scratch=1.5' -> {'spot': 2.0, 'scratch': 1.5}"""
    pairs = [item.split("=") for item in text.split(",") if item]
    unknown = [kind for kind, _ in pairs if kind not in DEFECT_TYPES]
    if unknown:
        raise ValueError(f"unknown defect kinds {unknown}: choose from {', '.join(DEFECT_TYPES)}")
    return {kind: float(factor) for kind, factor in pairs}


def learning_curve_point(net, data):
    """Validation AUROC per surface present: is the net still learning?"""
    _, scores = predict(net, data["images"])
    return {SURFACES[index]: round(auroc(scores[data["surfaces"] == index],
                                         data["labels"][data["surfaces"] == index]), 3)
            for index in np.unique(data["surfaces"])}


def set_seeds(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def export_onnx(net, path):
    wrapper = ExportWrapper(net).eval()
    dummy = torch.rand(1, 3, 256, 256)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(wrapper, dummy, path, opset_version=13, input_names=["image"],
                      output_names=["defect_map", "score"], do_constant_folding=True,
                      dynamic_axes={"image": {0: "batch"}, "defect_map": {0: "batch"},
                                    "score": {0: "batch"}})
    import onnx
    onnx.checker.check_model(onnx.load(path))


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


CARD_TEXT = {
    "description": (
        "Surface defect inspection (scratch, spot, stain, crack, hole) for five surfaces: brick, "
        "gravel, grass (photos) and brushed metal, woven textile (procedural). One small "
        "fully-convolutional CNN trained on synthetic defects; outputs a stride-4 defect "
        "probability map and an image-level defect score. Per-surface image thresholds are chosen "
        "on the validation split for a 1% false-alarm rate on defect-free frames."),
    "preprocessing": (
        "Decode the frame to RGB, resize to 256x256 if needed, value = byte / 255 (range [0, 1]), "
        "layout NCHW [n, 3, 256, 256] float32; several frames can go in one batch."),
    "postprocessing": (
        "score[i] is the probability that frame i shows a defect: alarm when score > "
        "defaults.surfaces[surface].threshold. defect_map[i, 0] is a 64x64 grid of per-cell defect "
        "probabilities; cell (r, c) covers pixels [4r, 4r+4) x [4c, 4c+4). Regions = 8- or "
        "4-connected cells with probability > defaults.regionThreshold; a region's box in pixels is "
        "x = 4 * minCol, y = 4 * minRow, width = 4 * (maxCol - minCol + 1), height = 4 * (maxRow - minRow + 1)."),
}


# What the numbers in the card's verification were measured on (README.md explains why).
TRAINING_DATA = {
    "splits": ("photos 512x512: train = top half 512x256, validation = bottom-left 256x256, test = "
               "bottom-right 256x256 (pixels never overlap); metal, textile: by seed range"),
    "augmentation": ("gravel and grass training frames: any rotation angle, zoom 0.6-1.6, anisotropic zoom "
                     "0.8-1.25, shear <= 0.15, perspective +-25 %, elastic warp <= 3 px sd, gamma "
                     "0.7-1.4, contrast 0.75-1.3, colour tint +-12 %; brick training frames: right-angle "
                     "camera views (zoom 1-1.4x, tilt <= 8 deg) with the same gamma, contrast and tint; "
                     "validation and test frames: right-angle camera views, no tint"),
    "visibilityRule": ("a defect is kept when its mean brightness change inside the mask is >= 0.08 "
                       "and >= 1.5x the std of the surface around it (stains 0.75x; spots radius "
                       ">= 2.5 px); chosen from a contact sheet of the least visible defects on "
                       "gravel and grass, where 1.0x let through spots and thin lines no one could find"),
}


def specialist_description(surface):
    return (f"Surface defect inspection (scratch, spot, stain, crack, hole) of {surface} only: the "
            "network of the all-surface model `defect`, trained on this surface's frames alone, so "
            "all of its capacity and training steps go to telling this texture's own structure from "
            "a defect. Outputs a stride-4 defect probability map and an image-level defect score; "
            "the image threshold is chosen on the validation split for a 1% false-alarm rate on "
            "defect-free frames. The service runs it for this surface in place of `defect` (a "
            "surface goes to the model claiming the fewest surfaces).")


def write_card(card_path, onnx_path, net, validation, run):
    surfaces, per_kind, region_threshold, hit_rate, false_regions = validation
    card = {}
    if os.path.exists(card_path):
        with open(card_path) as f:
            card = json.load(f)
    defaults = dict(CARD_TEXT)
    if len(surfaces) == 1:
        defaults["description"] = specialist_description(next(iter(surfaces)))
    text = {key: card.get(key, value) for key, value in defaults.items()}
    card = {
        "name": run["name"],
        "version": "1",
        "task": "defect-inspection",
        "description": text["description"],
        "file": "1/model.onnx",
        "sha256": sha256_of(onnx_path),
        "inputs": [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 256, 256],
                    "description": "RGB frames [batch, 3, 256, 256] NCHW float32, value = byte / 255 in [0, 1]; batch is variable."}],
        "outputs": [
            {"name": "defect_map", "datatype": "FP32", "shape": [-1, 1, 64, 64],
             "description": "Per-cell defect probability (sigmoid) at stride 4: cell (i, j) covers pixels [4i, 4i+4) x [4j, 4j+4)."},
            {"name": "score", "datatype": "FP32", "shape": [-1],
             "description": "Image-level defect probability in [0, 1] (learned head on a smooth max of the map logits and pooled deep features)."},
        ],
        "labels": ["defect"],
        "preprocessing": text["preprocessing"],
        "postprocessing": text["postprocessing"],
        "defaults": {
            "surfaces": {name: {key: values[key] for key in ("threshold", "falseAlarmRate", "validationAuroc")}
                         for name, values in surfaces.items()},
            "regionThreshold": region_threshold,
            "frameSize": 256,
        },
        "provenance": {
            "package": f"python3-skimage {skimage_package_version()} (Debian) for brick, gravel, grass; procedural for metal, textile",
            "files": ["skimage/data/brick.png", "skimage/data/gravel.png", "skimage/data/grass.png"],
            "upstream": ("brick: https://cc0textures.com/view.php?tex=Bricks25, gravel: "
                         "https://cc0textures.com/view.php?tex=Gravel04, grass: "
                         "https://www.deviantart.com/linolafett/art/Grass-01-434853879 (via scikit-image data); "
                         "defects, metal and textile rendered by models/inspect"),
            "converter": "models/inspect/train.py (torch 1.13 torch.onnx.export opset 13)",
        },
        "licence": ("Photos brick.png, gravel.png, grass.png: Creative Commons CC0 (as stated in "
                    "scikit-image's data documentation; the python3-skimage package itself is BSD-3-Clause); "
                    "model weights, renderers and training code: Apache-2.0 (this project)"),
        "verification": {
            "date": run["date"],
            "seed": run["seed"],
            "initSeed": run["initSeed"],
            "command": run["command"],
            "steps": run["steps"],
            "wallTimeSeconds": run["wall"],
            "trainingFrames": run["train_frames"],
            "validationFrames": run["val_frames"],
            "parameters": count_parameters(net),
            "targetFalseAlarmRate": run["far"],
            "data": TRAINING_DATA,
            "validation": {
                "surfaces": surfaces,
                "aurocByDefect": per_kind,
                "regionHitRate": round(hit_rate, 4),
                "goodFramesWithRegion": round(false_regions, 4),
            },
        },
    }
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return card


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--train-per-surface", type=int, default=1400)
    parser.add_argument("--val-per-surface", type=int, default=300)
    parser.add_argument("--crop-steps", type=int, default=3400)
    parser.add_argument("--frame-steps", type=int, default=200)
    # One intra-op thread: on the shared 2-core machine two OpenMP threads that compete with
    # other processes ran 5-20x slower per step than one (measured 0.15 s vs 0.5-3.6 s).
    parser.add_argument("--threads", type=int, default=1)
    # Data from --seed, weights and batch order from --init-seed: run-to-run spread on the same frames.
    parser.add_argument("--init-seed", type=int, default=None, help="training seed (default: --seed)")
    parser.add_argument("--local-window", type=int, default=0,
                        help="local contrast channel's window in px (0: frame-wide standardisation only)")
    parser.add_argument("--procedural-per-surface", type=int, default=0,
                        help="procedural gravel and grass training frames per surface (0: photos only)")
    parser.add_argument("--procedural-share", type=float, default=0.5,
                        help="share of gravel's and grass's batches drawn from procedural frames")
    parser.add_argument("--hard-surface-weight", type=float, default=HARD_SURFACE_WEIGHT,
                        help="gravel's and grass's share of the batches relative to another surface's")
    parser.add_argument("--frame-relative", action="store_true",
                        help="decoder also sees features normalised over the frame (net.py)")
    parser.add_argument("--width", type=int, nargs=4, default=[16, 32, 64, 96],
                        help="channels at stride 2, 4, 8, 16")
    parser.add_argument("--balance-cells", type=float, default=0.0,
                        help="weigh defect cells so each frame's defect counts as this many cells (0: plain)")
    parser.add_argument("--online-spots", type=float, default=0.0,
                        help="chance that a defect-free training crop gets a freshly drawn spot (online_spots.py)")
    parser.add_argument("--kind-weights", default="",
                        help="draw frames of these defect kinds more often, e.g. spot=2,scratch=2")
    parser.add_argument("--surfaces", default=",".join(SURFACES),
                        help="comma-separated surfaces to train and validate on (a specialist: one)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="print validation AUROC per surface every N steps (0: only at the end)")
    parser.add_argument("--false-alarm-rate", type=float, default=0.01)
    parser.add_argument("--checkpoint", default=os.path.join(CACHE, "defect.pt"))
    parser.add_argument("--name", default="defect",
                        help="model name in the card; a specialist is defect-<surface>")
    parser.add_argument("--out", default=None, help="model directory (default models/repository/<name>)")
    args = parser.parse_args()

    started = time.time()
    torch.set_num_threads(args.threads)
    init_seed = args.seed if args.init_seed is None else args.init_seed
    set_seeds(init_seed)
    chosen = args.surfaces.split(",")
    unknown = sorted(set(chosen) - set(SURFACES))
    if unknown:
        parser.error(f"unknown surfaces {unknown}: choose from {', '.join(SURFACES)}")
    procedural_chosen = [name for name in chosen if name in PROCEDURAL_SURFACES]
    build_missing([("train", args.train_per_surface, args.seed, chosen, False),
                   ("val", args.val_per_surface, args.seed + 1, chosen, False)]
                  + ([("train", args.procedural_per_surface, args.seed + 2, procedural_chosen, True)]
                     if args.procedural_per_surface and procedural_chosen else []), 2)
    train = cached_arrays("train", args.train_per_surface, args.seed, 2, surfaces=chosen)
    train["procedural"] = np.zeros(len(train["images"]), bool)
    if args.procedural_per_surface and procedural_chosen:
        extra = cached_arrays("train", args.procedural_per_surface, args.seed + 2, 2, procedural=True,
                              surfaces=procedural_chosen)
        extra["procedural"] = np.ones(len(extra["images"]), bool)
        train = concatenate([train, extra])
    val = cached_arrays("val", args.val_per_surface, args.seed + 1, 2, surfaces=chosen)
    print(f"data ready: {len(train['images'])} train, {len(val['images'])} val frames "
          f"in {time.time() - started:.0f} s", flush=True)

    net = DefectNet(width=tuple(args.width), local_window=args.local_window,
                    frame_relative=args.frame_relative)
    rng = np.random.default_rng(init_seed)
    sampling = sampling_weights(train, args.procedural_share if args.procedural_per_surface else 0.0,
                                args.hard_surface_weight)
    try:
        sampling = weight_kinds(sampling, train["kinds"], parse_kind_weights(args.kind_weights))
    except ValueError as error:
        parser.error(str(error))
    total_steps = args.crop_steps + args.frame_steps
    optimizer = torch.optim.AdamW(net.parameters(), lr=4e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=4e-3, total_steps=total_steps,
                                                   pct_start=0.05)
    running = None
    reporter = Progress("train inspect", total_steps, "steps")
    for step in range(total_steps):
        crop, batch = (128, 32) if step < args.crop_steps else (256, 16)
        indices = rng.choice(len(train["images"]), batch, p=sampling)
        images, cells = batch_crops(train, indices, crop, rng, args.online_spots)
        net.train()
        map_logits, score_logit = net(images)
        loss = loss_fn(map_logits, score_logit, cells, args.balance_cells)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        reporter.tick(note=f"crop {crop}, loss {running:.4f}")
        if args.eval_every and step > 0 and step % args.eval_every == 0:
            reporter.log(f"step {step} validation AUROC {learning_curve_point(net, val)}", sys.stdout)
        if step % 200 == 0 or step == total_steps - 1:
            reporter.log(f"step {step}/{total_steps} crop {crop} loss {running:.4f} "
                         f"t {time.time() - started:.0f} s", sys.stdout)
    reporter.finish(f"loss {running:.4f}, {time.time() - started:.0f} s")

    os.makedirs(os.path.dirname(args.checkpoint), exist_ok=True)
    torch.save(net.state_dict(), args.checkpoint)
    validation = validation_report(net, val, args.false_alarm_rate)
    out = args.out or os.path.join(REPO, "models", "repository", args.name)
    onnx_path = os.path.join(out, "1", "model.onnx")
    export_onnx(net, onnx_path)
    run = {"name": args.name, "date": datetime.date.today().isoformat(),
           "command": " ".join(["/usr/bin/python3 models/inspect/train.py", *sys.argv[1:]]),
           "steps": {"crop128": args.crop_steps, "frame256": args.frame_steps, "threads": args.threads},
           "seed": args.seed, "initSeed": init_seed,
           "wall": round(time.time() - started), "train_frames": len(train["images"]),
           "val_frames": len(val["images"]), "far": args.false_alarm_rate}
    card = write_card(os.path.join(out, "card.json"), onnx_path, net, validation, run)
    print(json.dumps(card["verification"], indent=1))
    print(f"regionThreshold {card['defaults']['regionThreshold']}, wall {run['wall']} s")


if __name__ == "__main__":
    main()
