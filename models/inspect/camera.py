"""What the line camera does to a surface: exposure, white balance, lighting, optics, sensor, codec."""
import io

import numpy as np
from PIL import Image
from scipy import ndimage


def lighting_gradient(rng, size):
    """A linear falloff plus an off-centre lamp: multiplicative, mean about 1."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    direction = rng.uniform(0, 2 * np.pi)
    linear = (xx - 0.5) * np.cos(direction) + (yy - 0.5) * np.sin(direction)
    cy, cx = rng.uniform(-0.3, 1.3, 2)
    lamp = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.2, 1.0))
    gain = 1 + rng.uniform(0, 0.35) * linear + rng.uniform(0, 0.25) * (lamp - lamp.mean())
    return gain.astype(np.float32)


def capture(frame, rng):
    """float [0, 1] RGB surface -> uint8 RGB camera frame."""
    size = frame.shape[0]
    image = frame * lighting_gradient(rng, size)[:, :, None]
    contrast = rng.uniform(0.7, 1.25)
    brightness = rng.uniform(-0.12, 0.12)
    image = (image - 0.5) * contrast + 0.5 + brightness
    white_balance = 1 + rng.uniform(-0.06, 0.06, 3)
    image = np.clip(image * white_balance[None, None, :], 0, 1)
    image = image ** rng.uniform(0.75, 1.35)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 1.2)
        image = ndimage.gaussian_filter(image, (sigma, sigma, 0))
    image = image + rng.uniform(0, 0.025) * rng.standard_normal(image.shape)
    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if rng.random() < 0.6:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(45, 96)))
        pixels = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return pixels
