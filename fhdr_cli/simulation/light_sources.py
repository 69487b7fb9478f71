"""Synthetic light sources composited into HDR views before exposure: suns, bulbs, candles, windows.

The real scenes are few and their lights are a few pixels wide, while photos show light sources
large and small at 10^2 to 10^5 times the clip level. A network can only infer a clipped light's
magnitude from its context: the size of the clipped core and the lens glare around it. So every
source carries a glare halo whose energy is proportional to the source's own (one lens sees all
sources alike), and a brighter source clips a wider area, as in a real photo.
"""

from __future__ import annotations

import cv2
import numpy as np

# Colour of the light, relative: candle/tungsten, warm white, neutral, daylight/sky.
TINTS = np.array([(1.0, 0.62, 0.32), (1.0, 0.8, 0.6), (1.0, 0.97, 0.92), (0.85, 0.93, 1.0)], np.float32)
# Peak radiance per kind, as log10 of the multiple of the view's bright reference level.
BRIGHTNESS = {"disc": (2.0, 5.0), "point": (2.5, 5.0), "window": (1.0, 3.0)}
GLARE_SIGMAS = (1.5, 4.0, 12.0, 36.0)  # pixels at 256 px; wide lobes carry less energy
GLARE_SHARES = (0.45, 0.3, 0.17, 0.08)
# log10 of the share of the light a lens scatters: clean primes to hazy zooms
GLARE_SCATTER = (-3.5, -1.5)


def add_light_sources(view: np.ndarray, rng: np.random.Generator, probability: float = 0.5) -> np.ndarray:
    """`view` (HxWx3 float32 linear) with 1-3 light sources and their glare, with `probability`."""
    if rng.random() >= probability:
        return view
    h, w = view.shape[:2]
    size = min(h, w)
    reference = max(float(np.quantile(view.max(axis=-1), 0.95)), 1e-6)  # about where the exposure clips
    covered = np.zeros((h, w), np.float32)
    lights = np.zeros_like(view)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(("disc", "point", "window"), p=(0.45, 0.25, 0.3))
        shape = _shape_mask(kind, h, w, size, rng)
        radiance = reference * 10 ** rng.uniform(*BRIGHTNESS[kind])
        tint = TINTS[rng.integers(len(TINTS))] * rng.normal(1.0, 0.03, 3).astype(np.float32)
        lights += shape[..., None] * (radiance * tint / tint.max())
        covered = np.maximum(covered, shape)
    composite = view * (1.0 - covered[..., None]) + lights
    return (composite + _glare(lights, size, rng)).astype(np.float32)


def _shape_mask(kind: str, h: int, w: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of one source (drawn at 4x and area-averaged)."""
    ss = 4
    canvas = np.zeros((h * ss, w * ss), np.float32)
    cy, cx = rng.uniform(0.05, 0.95) * h * ss, rng.uniform(0.05, 0.95) * w * ss
    if kind == "point":  # a candle flame, a distant street lamp
        axes = (rng.uniform(0.6, 1.6) * ss, rng.uniform(0.6, 2.5) * ss)
    elif kind == "disc":  # a sun, a bulb, a lamp shade
        radius = 10 ** rng.uniform(-2.1, -1.0) * size * ss  # log-uniform: photos show lamps small and large
        axes = (radius, radius * rng.uniform(0.8, 1.0))
    else:  # a window or a light panel, sometimes with mullions
        half_w, half_h = rng.uniform(0.03, 0.15, 2) * size * ss
        cv2.rectangle(canvas, (int(cx - half_w), int(cy - half_h)), (int(cx + half_w), int(cy + half_h)), 1.0, -1)
        if rng.random() < 0.5:
            bar = max(1, int(rng.uniform(0.004, 0.012) * size * ss))
            canvas[int(cy - half_h):int(cy + half_h), int(cx - bar):int(cx + bar)] = 0.0
            canvas[int(cy - bar):int(cy + bar), int(cx - half_w):int(cx + half_w)] = 0.0
        return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    cv2.ellipse(canvas, (int(cx), int(cy)), (max(1, int(axes[0])), max(1, int(axes[1]))),
                rng.uniform(0, 180), 0, 360, 1.0, -1)
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)


def add_lens_glare(view: np.ndarray, rng: np.random.Generator, probability: float = 0.5) -> np.ndarray:
    """`view` seen through a lens that scatters a random share (3e-4..3e-2) of all its light, with
    `probability`. Real captures carry their camera's glare; renders have none, so without this a
    rendered lamp's bare clipped edge would teach the network that lights come without halos."""
    if probability <= 0 or rng.random() >= probability:  # at 0 the random stream stays as it was
        return view
    fraction = 10 ** rng.uniform(*GLARE_SCATTER)
    glare = _glare_psf(view, min(view.shape[:2]), cv2.BORDER_REFLECT)
    return (view * (1.0 - fraction) + fraction * glare).astype(np.float32)


def _glare(lights: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Lens glare: a sum of Gaussian lobes (a cheap long-tailed PSF) carrying a fraction of the light.

    A random share 3e-4..3e-2 of the energy, as lenses from clean primes to hazy zooms scatter;
    one sample in eight has none, so a clipped core alone does not always tell the magnitude.
    """
    if rng.random() < 0.125:
        return np.zeros_like(lights)
    fraction = 10 ** rng.uniform(*GLARE_SCATTER)
    return _glare_psf(lights, size, cv2.BORDER_CONSTANT) * fraction


def _glare_psf(image: np.ndarray, size: int, border: int) -> np.ndarray:
    """`image` spread by the glare lobes (unit energy), their widths scaled to a `size`-pixel view."""
    scale = size / 256.0
    glare = np.zeros_like(image)
    for sigma, share in zip(GLARE_SIGMAS, GLARE_SHARES):
        glare += share * cv2.GaussianBlur(image, (0, 0), sigma * scale, borderType=border)
    return glare
