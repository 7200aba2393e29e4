"""Spots drawn during training onto defect-free crops: a new spot every time, not the same ~280.

Why: the cached frames hold ~140 spots per 1,400 frames, and the gravel specialist learnt those
spots rather than the kind: it found 67 % of its own training frames' light spots but 44 % of
validation's, plainly visible light discs among them. Drawing fresh spots on the fly gives the net
thousands of them.

The same spot as defects.py's `spot` and the same visibility rule (defects.draw_visible_defect),
computed in a small window around the spot instead of on a 4x supersampled whole frame: 36 ms per
spot there, well under 1 ms here. Drawn after the camera (the crop is already a camera frame), so
the spot skips the camera's gamma, blur and JPEG; the spot renderer's own blur stands in for them.
"""
import numpy as np
from scipy import ndimage

from defects import ATTEMPTS, MASK_LEVEL, dark_or_light, visibility, visibility_margin

SUPERSAMPLE = 4
# Room around the ellipse for the blur (sigma <= 1.2 + 1.0) and the visibility margin (8 px).
PAD = 10


def spot_coverage(rng, size):
    """(coverage in a window, window's top-left (y, x)): defects.spot's shape, blur and extra blur."""
    radius = rng.uniform(2.5, 7.0)
    centre = rng.uniform(0.05 * size, 0.95 * size, 2)  # (x, y), as defects.spot draws it
    aspect = rng.uniform(0.6, 1.0)
    rx, ry = radius, radius * aspect
    x0 = int(np.floor(centre[0] - rx)) - PAD
    y0 = int(np.floor(centre[1] - ry)) - PAD
    width = int(np.ceil(2 * rx)) + 2 * PAD + 1
    height = int(np.ceil(2 * ry)) + 2 * PAD + 1
    # Pixel (row, col) covers [x, x+1) x [y, y+1): average SUPERSAMPLE^2 samples inside it.
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    xs = (x0 + np.arange(width)[:, None] + offsets[None, :]).ravel()
    ys = (y0 + np.arange(height)[:, None] + offsets[None, :]).ravel()
    inside = (((xs[None, :] - centre[0]) / rx) ** 2 + ((ys[:, None] - centre[1]) / ry) ** 2) <= 1.0
    coverage = inside.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE).mean(axis=(1, 3)).astype(np.float32)
    coverage = np.clip(ndimage.gaussian_filter(coverage, rng.uniform(0.3, 1.2)) * 1.3, 0, 1)
    if rng.random() < 0.4:
        coverage = ndimage.gaussian_filter(coverage, rng.uniform(0.3, 1.0))
    return coverage, (y0, x0)


def window_of(size, origin, shape):
    """The window's part inside the frame: (frame slices, window slices)."""
    (y0, x0), (height, width) = origin, shape
    fy0, fx0 = max(0, y0), max(0, x0)
    fy1, fx1 = min(size, y0 + height), min(size, x0 + width)
    if fy1 <= fy0 or fx1 <= fx0:
        return None
    return ((slice(fy0, fy1), slice(fx0, fx1)),
            (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0)))


def add_online_spot(image, rng):
    """image: float32 [0, 1] HxWx3 (square), changed in place. Returns the spot's pixel mask, or
    None when no draw landed on the frame."""
    size = image.shape[0]
    best = None
    for _ in range(ATTEMPTS):
        coverage, origin = spot_coverage(rng, size)
        window = window_of(size, origin, coverage.shape)
        if window is None:
            continue
        frame_part, cover_part = window
        cover = coverage[cover_part]
        mask = cover >= MASK_LEVEL
        if mask.sum() < 4:
            continue
        before = image[frame_part]
        # defects.spot's paint; the window holds the mask's box + 8 px that visibility() looks at.
        after = np.clip(dark_or_light(rng, before, cover, (0.45, 0.9)), 0, 1).astype(np.float32)
        margin = visibility_margin("spot", *visibility(before, after, mask))
        if best is None or margin > best[0]:
            best = (margin, frame_part, after, mask)
        if margin >= 1.0:
            break
    if best is None:
        return None
    _, frame_part, after, mask = best
    image[frame_part] = after
    full = np.zeros((size, size), bool)
    full[frame_part] = mask
    return full
