"""Procedural gravel and grass: extra training material beside the two photos.

Each photo's training region holds only a few hundred pebbles and blades; a net trained on them
learns those pebbles. Every procedural frame is a new field of pebbles or blades, so what is
common to all of them (edges, gaps, shading) is what the net can learn as "not a defect".
Gray [0, 1] float32 frames, like the photos before the camera.
"""
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import cKDTree


def smooth_noise(rng, size, sigma):
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    return field / (field.std() + 1e-8)


def gravel_frame(rng, size=256):
    """Angular pebbles: Voronoi cells of jittered seeds with bent outlines, each a tilted facet
    with its own albedo and grain, lit from one side, dark gaps and occlusion shadows."""
    spacing = np.exp(rng.uniform(np.log(11), np.log(32)))
    lattice = np.arange(-2 * spacing, size + 2 * spacing, spacing)
    seeds = np.stack(np.meshgrid(lattice, lattice), -1).reshape(-1, 2)
    seeds = seeds + rng.uniform(-0.45, 0.45, seeds.shape) * spacing
    count = len(seeds)
    # Elongated pebbles: stretch the metric along a random axis.
    stretch = rng.uniform(1.0, 1.5)
    axis = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(axis), -np.sin(axis)], [np.sin(axis), np.cos(axis)]])
    metric = rotation @ np.diag([1.0 / stretch, 1.0]) @ rotation.T
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    bend = rng.uniform(0.5, 2.0)
    points = np.stack([xx + bend * smooth_noise(rng, size, 3), yy + bend * smooth_noise(rng, size, 3)], -1)
    tree = cKDTree(seeds @ metric)
    distances, owners = tree.query((points @ metric).reshape(-1, 2), k=2)
    edge = ((distances[:, 1] - distances[:, 0]) / 2).reshape(size, size)
    owner = owners[:, 0].reshape(size, size)

    # Height: rounded near the outline, a random tilt per pebble (facets catch the light).
    rounding = spacing * rng.uniform(0.15, 0.35)
    height = np.sqrt(np.clip(edge / rounding, 0, 1)) * rounding * 0.8
    tilts = rng.normal(0, 0.3, (count, 2))
    centres = seeds[owner]
    height += tilts[owner, 0] * (xx - centres[..., 0]) + tilts[owner, 1] * (yy - centres[..., 1])
    height += rng.uniform(0.2, 0.6) * ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.5)
    gy, gx = np.gradient(height)
    light = rng.uniform(0, 2 * np.pi)
    shading = np.clip(0.75 + rng.uniform(0.3, 0.6) * (gx * np.cos(light) + gy * np.sin(light))
                      / np.sqrt(1 + gx ** 2 + gy ** 2), 0.2, 1.3)

    albedo = np.clip(rng.normal(rng.uniform(0.6, 0.8), rng.uniform(0.06, 0.14), count), 0.15, 0.95)
    grain = 1 + rng.uniform(0.03, 0.1) * rng.standard_normal((size, size))
    gray = albedo[owner] * shading * grain

    # Gaps and the shadow a pebble throws into them on the side away from the light.
    gap = rng.uniform(0.4, 1.3)
    occlusion = 1 - np.exp(-np.maximum(edge - gap, 0) / rng.uniform(0.8, 2.0))
    gray = gray * (0.6 + 0.4 * occlusion)
    shift = rng.uniform(1, 3)
    in_gap = (edge < gap).astype(np.float64)
    cast = ndimage.shift(in_gap, (shift * np.sin(light), shift * np.cos(light)), order=1, mode="nearest")
    gray = gray * (1 - rng.uniform(0.15, 0.4) * cast)
    gap_shade = rng.uniform(0.05, 0.2) * (1 + 0.3 * rng.standard_normal((size, size)))
    gray = np.where(in_gap > 0, gap_shade, gray)
    gray = ndimage.gaussian_filter(gray, rng.uniform(0.4, 0.9))
    return np.clip(gray, 0, 1).astype(np.float32)


def grass_frame(rng, size=256):
    """Thin curved blades in layers over a dark ground: each blade a tapered quadratic curve with
    its own shade and a darker edge; a few broad short leaves among them."""
    scale = 2  # drawn at 2x and averaged down: anti-aliased thin blades
    big = size * scale
    ground = rng.uniform(0.12, 0.3)
    canvas = Image.fromarray(np.full((big, big), int(ground * 255), np.uint8))
    draw = ImageDraw.Draw(canvas)
    n = int(rng.uniform(900, 2000))
    # A dominant direction for some fields (mown or wind-laid grass), random for others.
    angle = rng.uniform(0, np.pi) + rng.uniform(-1, 1, n) * rng.uniform(0.4, np.pi)
    base = rng.uniform(-0.1 * big, 1.1 * big, (n, 2))
    length = np.exp(rng.uniform(np.log(15), np.log(100), n)) * scale
    width = rng.uniform(1.2, 4.5, n) * scale
    leaf = rng.random(n) < 0.03
    length[leaf] *= 0.35
    width[leaf] *= 3.0
    direction = np.stack([np.cos(angle), np.sin(angle)], -1)
    normal = np.stack([-direction[:, 1], direction[:, 0]], -1)
    bow = (rng.normal(0, 0.2, n) * length)[:, None]
    t = np.linspace(0, 1, 10)[None, :, None]
    tip = base + length[:, None] * direction
    control = (base + tip) / 2 + bow * normal
    centre = (1 - t) ** 2 * base[:, None] + 2 * (1 - t) * t * control[:, None] + t ** 2 * tip[:, None]
    taper = np.where(leaf[:, None, None], np.sin(np.pi * np.clip(t, 0.05, 0.95)), 1 - t ** 1.5)
    half = width[:, None, None] / 2 * taper
    outer = np.concatenate([centre + half * normal[:, None], (centre - half * normal[:, None])[:, ::-1]], 1)
    inner = np.concatenate([centre + 0.5 * half * normal[:, None], (centre - 0.5 * half * normal[:, None])[:, ::-1]], 1)
    # Later blades lie on top and catch more light.
    light_mean = rng.uniform(0.4, 0.6)
    shade = np.clip(rng.normal(light_mean * (0.7 + 0.5 * np.arange(n) / n), 0.1), 0.08, 0.9)
    edge_shade = shade * rng.uniform(0.5, 0.8, n)
    for index in range(n):
        draw.polygon(list(map(tuple, outer[index])), fill=int(edge_shade[index] * 255))
        draw.polygon(list(map(tuple, inner[index])), fill=int(shade[index] * 255))
    gray = np.asarray(canvas.resize((size, size), Image.BOX), np.float32) / 255.0
    gray = gray * (1 + 0.2 * smooth_noise(rng, size, 30)) * (1 + 0.04 * rng.standard_normal((size, size)))
    return np.clip(gray, 0, 1).astype(np.float32)


PROCEDURAL_GROUND = {"gravel": gravel_frame, "grass": grass_frame}
