"""Defect-free surface frames: three photos (scikit-image, CC0) and two procedural surfaces.

Splits never share material:
- photos (512x512): train = top half 512x256 (rows 0..255, all columns), validation =
  bottom-left 256x256, test = bottom-right 256x256;
- procedural surfaces: by seed range (train [0, 1e6), validation [1e6, 2e6), test [2e6, 3e6)).
"""
import os
import subprocess
import glob

import numpy as np
from PIL import Image
from scipy import ndimage

from procedural_ground import PROCEDURAL_GROUND

SURFACES = ("brick", "gravel", "grass", "metal", "textile")
PHOTO_SURFACES = ("brick", "gravel", "grass")
SPLITS = ("train", "val", "test")
FRAME = 256

# (row0, row1, col0, col1) of each split inside the 512x512 photos.
PHOTO_REGIONS = {
    "train": (0, 256, 0, 512),
    "val": (256, 512, 0, 256),
    "test": (256, 512, 256, 512),
}
SEED_RANGES = {"train": (0, 1_000_000), "val": (1_000_000, 2_000_000), "test": (2_000_000, 3_000_000)}

SKIMAGE_DIR = os.environ.get("INSPECT_SKIMAGE_DIR", "/tmp/inspect-skimage")
SKIMAGE_DATA = "usr/lib/python3/dist-packages/skimage/data"


def skimage_package_version():
    out = subprocess.run(["dpkg-deb", "-f", find_skimage_deb(), "Version"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def find_skimage_deb():
    debs = sorted(glob.glob(os.path.join(SKIMAGE_DIR, "python3-skimage_*.deb")))
    if not debs:
        # The photos come from Debian's package (no other network here); fetch it once.
        os.makedirs(SKIMAGE_DIR, exist_ok=True)
        subprocess.run(["apt-get", "download", "python3-skimage"], cwd=SKIMAGE_DIR, check=True,
                       capture_output=True)
        debs = sorted(glob.glob(os.path.join(SKIMAGE_DIR, "python3-skimage_*.deb")))
    return debs[-1]


_photo_cache = {}


def load_photo(surface):
    """The whole 512x512 grayscale photo as float32 in [0, 1]."""
    if surface not in _photo_cache:
        path = os.path.join(SKIMAGE_DIR, "x", SKIMAGE_DATA, surface + ".png")
        if not os.path.exists(path):
            subprocess.run(["dpkg", "-x", find_skimage_deb(), os.path.join(SKIMAGE_DIR, "x")],
                           check=True)
        _photo_cache[surface] = np.asarray(Image.open(path).convert("L"), np.float32) / 255.0
    return _photo_cache[surface]


def photo_region(surface, split):
    r0, r1, c0, c1 = PHOTO_REGIONS[split]
    return load_photo(surface)[r0:r1, c0:c1]


def resize(gray, size):
    return np.asarray(Image.fromarray(gray, mode="F").resize((size, size), Image.BICUBIC),
                      np.float32)


def photo_frame(surface, split, rng):
    """A defect-free frame of the split's photo region.

    Gravel and grass training frames are warped hard (photo_training_view) so the net cannot
    memorise the few pebble and blade layouts of its region, brick ones are camera views;
    all training frames get gamma, contrast and a tint (photometric); validation and test frames are plain camera views
    (photo_camera_view), the situation the service sees.
    """
    region = photo_region(surface, split)
    if split == "train":
        warp = TRAINING_WARP[surface]
        if warp is None:
            gray, tint = photometric(photo_camera_view(region, rng), rng)
        else:
            gray, tint = photometric(photo_training_view(region, warp, rng), rng)
    else:
        gray, tint = photo_camera_view(region, rng), np.ones(3, np.float32)
    return np.clip(gray[:, :, None] * tint[None, None, :], 0, 1).astype(np.float32)


def photo_camera_view(region, rng):
    """Dihedral pose, zoom 1-1.4x, sometimes a small tilt: a camera over the surface."""
    height, width = region.shape
    side = min(height, width)
    tilt = rng.uniform(-8, 8) if rng.random() < 0.3 else 0.0
    # A tilted crop must contain the rotated frame's corners: shrink the crop for it.
    max_crop = int(side / (abs(np.cos(np.radians(tilt))) + abs(np.sin(np.radians(tilt)))))
    crop = int(rng.uniform(0.72, 1.0) * max_crop)
    grab = min(side, int(np.ceil(crop * 1.2))) if tilt else crop
    r = rng.integers(0, height - grab + 1)
    c = rng.integers(0, width - grab + 1)
    patch = region[r:r + grab, c:c + grab]
    if tilt:
        image = Image.fromarray(patch, mode="F").rotate(tilt, resample=Image.BICUBIC)
        m = (grab - crop) // 2
        patch = np.asarray(image, np.float32)[m:m + crop, m:m + crop]
    patch = np.rot90(patch, rng.integers(0, 4))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return resize(np.ascontiguousarray(patch), FRAME)


# Training-view ranges per photo: zoom (frame pixels per photo pixel), the ratio of the two
# axes' zoom, shear, perspective (change of zoom across the frame), elastic displacement (px).
# Gravel and grass are stochastic: any warp is still gravel or grass. Brick is not: with the
# strong warp its validation AUROC fell 0.99 -> 0.94 (scratches 0.83: mortar lines at any angle
# and bent look like scratches); turns and zoom only (0.8-1.4x) gave 0.92. Brick therefore trains
# on right-angle camera views of its (larger) region, with the photometric changes: 0.98.
STRONG_WARP = {"zoom": (0.6, 1.6), "anisotropy": (0.8, 1.25), "shear": 0.15, "perspective": 0.25,
               "elastic": (0.0, 3.0)}
TRAINING_WARP = {"brick": None, "gravel": STRONG_WARP, "grass": STRONG_WARP}


def photo_training_view(region, warp, rng):
    """An arbitrary-angle, scaled, anisotropic, sheared, perspective and elastically warped view
    of the region (gray).

    The frame is sampled inside the region when the warped footprint fits; zoomed-out views
    (zoom < ~1.4, the region is 256 px high) do not fit, and their excess is mirrored at the region's
    edge (a mirrored gravel or grass field is still gravel or grass, and not a defect)."""
    height, width = region.shape
    yy, xx = np.mgrid[0:FRAME, 0:FRAME].astype(np.float64)
    u, v = (xx - FRAME / 2) / FRAME, (yy - FRAME / 2) / FRAME  # frame coordinates in [-0.5, 0.5)
    # Perspective: the zoom changes linearly across the frame in a random direction.
    direction = rng.uniform(0, 2 * np.pi)
    depth = 1 + rng.uniform(-warp["perspective"], warp["perspective"]) * (u * np.cos(direction) + v * np.sin(direction))
    u, v = u * depth, v * depth
    u = u + rng.uniform(-warp["shear"], warp["shear"]) * v
    zoom = np.exp(rng.uniform(*np.log(warp["zoom"])))
    anisotropy = np.exp(rng.uniform(*np.log(warp["anisotropy"])))
    u, v = u * FRAME / (zoom * np.sqrt(anisotropy)), v * FRAME * np.sqrt(anisotropy) / zoom
    angle = rng.uniform(0, 2 * np.pi)
    rows = np.sin(angle) * u + np.cos(angle) * v
    cols = np.cos(angle) * u - np.sin(angle) * v
    if rng.random() < 0.5:
        cols = -cols
    # Elastic warp: a smooth random displacement bends pebble outlines and blades.
    amplitude = rng.uniform(*warp["elastic"])
    if amplitude > 0:
        smooth = rng.uniform(8, 24)
        for axis_coords in (rows, cols):
            field = ndimage.gaussian_filter(rng.standard_normal((FRAME, FRAME)), smooth)
            axis_coords += amplitude * field / (field.std() + 1e-8)
    # Place the footprint inside the region when it fits, else centre it anywhere.
    span_r, span_c = rows.max() - rows.min(), cols.max() - cols.min()
    free_r, free_c = height - 1 - span_r, width - 1 - span_c
    rows += (rng.uniform(0, free_r) if free_r > 0 else rng.uniform(free_r, 0)) - rows.min()
    cols += (rng.uniform(0, free_c) if free_c > 0 else rng.uniform(free_c, 0)) - cols.min()
    return ndimage.map_coordinates(region, [rows, cols], order=3, mode="mirror").astype(np.float32)


def photometric(gray, rng):
    """Gamma, contrast about the mean, and a slight colour tint of a gray training view."""
    gray = np.clip(gray, 0, 1) ** rng.uniform(0.7, 1.4)
    mean = gray.mean()
    gray = (gray - mean) * rng.uniform(0.75, 1.3) + mean
    tint = (1 + rng.uniform(-0.12, 0.12, 3)).astype(np.float32)
    return gray, tint


def oriented_noise(rng, size, angle, long_scale, short_scale):
    """Gaussian noise low-passed anisotropically: long correlation along `angle` (streaks)."""
    noise = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    along = fx * np.cos(angle) + fy * np.sin(angle)
    across = -fx * np.sin(angle) + fy * np.cos(angle)
    gain = np.exp(-(along * long_scale) ** 2 - (across * short_scale) ** 2)
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    return field / (field.std() + 1e-8)


METAL_TINTS = (
    (1.0, 1.0, 1.0),      # aluminium
    (0.93, 0.97, 1.04),   # steel, cool
    (1.06, 0.98, 0.86),   # brass-like
    (1.04, 0.96, 0.93),   # copper-ish anodised
)


def metal_frame(rng, size=FRAME):
    """Brushed metal: fine directional streaks, coarser polishing marks, a sheen band."""
    angle = rng.uniform(0, np.pi)
    fine = oriented_noise(rng, size, angle, rng.uniform(40, 120), rng.uniform(0.8, 2.0))
    coarse = oriented_noise(rng, size, angle, rng.uniform(60, 160), rng.uniform(4, 12))
    grain = rng.standard_normal((size, size))
    base = rng.uniform(0.4, 0.75)
    gray = (base + rng.uniform(0.02, 0.07) * fine + rng.uniform(0.01, 0.05) * coarse
            + rng.uniform(0.003, 0.012) * grain)
    yy, xx = np.mgrid[0:size, 0:size] / size
    sheen_dir = rng.uniform(0, 2 * np.pi)
    position = xx * np.cos(sheen_dir) + yy * np.sin(sheen_dir)
    centre = rng.uniform(-0.2, 1.2)
    gray = gray + rng.uniform(0.03, 0.15) * np.exp(-((position - centre) / rng.uniform(0.15, 0.5)) ** 2)
    tint = np.array(METAL_TINTS[rng.integers(len(METAL_TINTS))])
    return np.clip(gray[:, :, None] * tint[None, None, :], 0, 1).astype(np.float32)


TEXTILE_PALETTES = (
    ((0.18, 0.25, 0.45), (0.85, 0.85, 0.82)),  # denim
    ((0.75, 0.72, 0.65), (0.70, 0.67, 0.60)),  # canvas
    ((0.55, 0.12, 0.12), (0.45, 0.10, 0.10)),  # red cloth
    ((0.25, 0.35, 0.22), (0.30, 0.38, 0.25)),  # olive
    ((0.35, 0.35, 0.38), (0.60, 0.60, 0.62)),  # grey twill
    ((0.80, 0.78, 0.74), (0.80, 0.78, 0.74)),  # undyed
)


def textile_frame(rng, size=FRAME):
    """Woven cloth: warp/weft threads in plain or twill weave, with thread irregularity."""
    period = rng.uniform(4.5, 11.0)
    angle = rng.uniform(-0.15, 0.15) + (np.pi / 2 if rng.random() < 0.5 else 0.0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    # Irregular threads: a slow displacement field bends rows and columns.
    bend = rng.uniform(0.3, 1.5)
    du = bend * oriented_noise(rng, size, 0.0, 30, 30)
    dv = bend * oriented_noise(rng, size, 0.0, 30, 30)
    u = (xx * np.cos(angle) + yy * np.sin(angle)) / period + du / period
    v = (-xx * np.sin(angle) + yy * np.cos(angle)) / period + dv / period
    i = np.floor(u).astype(np.int64)
    j = np.floor(v).astype(np.int64)
    fu = u - i
    fv = v - j
    twill = rng.random() < 0.5
    warp_on_top = ((i + j) % 3 == 0) if twill else ((i + j) % 2 == 0)
    # Thread cross-section: bright along the middle, dark in the gaps between threads.
    warp_profile = np.sin(np.pi * fu) ** rng.uniform(0.3, 0.8)
    weft_profile = np.sin(np.pi * fv) ** rng.uniform(0.3, 0.8)
    thread_jitter = 1 + rng.uniform(0.02, 0.08) * rng.standard_normal(512)
    warp_shade = thread_jitter[(i % 256)] * warp_profile
    weft_shade = thread_jitter[256 + (j % 256)] * weft_profile
    warp_colour, weft_colour = (np.array(c) for c in TEXTILE_PALETTES[rng.integers(len(TEXTILE_PALETTES))])
    colour_jitter = rng.uniform(0.85, 1.15, 3)
    fibres = 1 + 0.06 * oriented_noise(rng, size, angle + np.pi / 2, 20, 1.0)
    shade = np.where(warp_on_top, warp_shade, weft_shade) * fibres
    colour = np.where(warp_on_top[:, :, None], warp_colour, weft_colour) * colour_jitter
    gap = 0.35
    rgb = colour * (gap + (1 - gap) * shade[:, :, None])
    return np.clip(rgb, 0, 1).astype(np.float32)


def seed_for(split, rng):
    lo, hi = SEED_RANGES[split]
    return int(rng.integers(lo, hi))


def procedural_ground_frame(surface, rng):
    """A procedural gravel or grass training frame, with the photos' photometric changes."""
    gray, tint = photometric(PROCEDURAL_GROUND[surface](rng), rng)
    return np.clip(gray[:, :, None] * tint[None, None, :], 0, 1).astype(np.float32)


def surface_frame(surface, split, rng, procedural=False):
    """A defect-free 256x256x3 float32 frame in [0, 1] of the split's material.

    procedural: gravel and grass drawn by procedural_ground instead of the photo (training only)."""
    if procedural:
        if split != "train":
            raise ValueError("procedural gravel and grass are training material only")
        return procedural_ground_frame(surface, rng)
    if surface in PHOTO_SURFACES:
        return photo_frame(surface, split, rng)
    texture_rng = np.random.default_rng(seed_for(split, rng))
    if surface == "metal":
        return metal_frame(texture_rng)
    if surface == "textile":
        return textile_frame(texture_rng)
    raise ValueError("unknown surface " + surface)
