"""Classic inverse tone mapping operators, the baselines FHDR is evaluated against.

Each takes a gamma-encoded LDR photo (HxWx3 float32 in [0, 1]) and returns linear
HDR (HxWx3 float32). All three start from sRGB decoding, the product's output
convention for well-exposed pixels; they differ only in what they do with the
luminance range. The metrics align exposure before comparing, so a baseline's
global scale never affects its scores, only the shape of its curve does.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..colour.transfer import luminance, srgb_to_linear

PEAK = 10.0  # expanded peak relative to sRGB white, shared by both expansion operators
LANDIS_THRESHOLD, LANDIS_ALPHA = 0.5, 2.0  # Landis 2002 / Banterle's HDR Toolbox defaults


def srgb_decode(ldr: np.ndarray) -> np.ndarray:
    """sRGB decoding only: the 'do nothing' baseline, highlights stay at 1."""
    return srgb_to_linear(torch.from_numpy(np.clip(ldr, 0.0, 1.0).astype(np.float32))).numpy()


def _with_luminance(linear: np.ndarray, new_lum: np.ndarray, lum: np.ndarray) -> np.ndarray:
    """`linear` with its luminance replaced by `new_lum`, hue and saturation kept (RGB * L'/L)."""
    ratio = np.divide(new_lum, lum, out=np.zeros_like(lum), where=lum > 0)
    return (linear * ratio[..., None]).astype(np.float32)


def _decoded_luminance(ldr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    linear = srgb_decode(ldr)
    return linear, luminance(torch.from_numpy(linear), channel_dim=-1).numpy()


def akyuz(ldr: np.ndarray) -> np.ndarray:
    """Akyüz et al. 2007 linear expansion, L = k * (Ld - Ld_min) / (Ld_max - Ld_min), gamma = 1.

    Their user study found this plain stretch as good as cleverer operators. k is
    the display's peak; we take k = PEAK (10x sRGB white), the same peak `landis`
    reaches, so the two differ only in curve shape. A linear map cannot both keep
    mid-tones at the sRGB scale and lift highlights above 1: mid-tones come out
    k / (Ld_max - Ld_min) times brighter (about 10x for a photo with clipped whites). Exposure alignment in the metrics removes that factor,
    which leaves this operator equal to `srgb_decode` up to its black-level
    stretch; it is kept because it is the standard reference in the literature.
    """
    linear, lum = _decoded_luminance(ldr)
    lo, hi = float(lum.min()), float(lum.max())
    if hi <= lo:  # a flat image has no range to stretch
        return linear
    return _with_luminance(linear, PEAK * (lum - lo) / (hi - lo), lum)


def landis(ldr: np.ndarray) -> np.ndarray:
    """Landis 2002 expansion: luminance above t = 0.5 is pushed towards PEAK, below t unchanged.

    With w = ((L - t) / (1 - t))^alpha, L' = (1 - w) * L + w * PEAK * L: a smooth
    blend (alpha = 2) from identity at t to PEAK at sRGB white, so mid-tones
    keep the sRGB-decoded scale and only near-clipped highlights are expanded.
    """
    linear, lum = _decoded_luminance(ldr)
    t = LANDIS_THRESHOLD
    w = (np.clip(lum - t, 0.0, None) / (1.0 - t)) ** LANDIS_ALPHA
    return _with_luminance(linear, (1.0 - w) * lum + w * PEAK * lum, lum)


BASELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "srgb-decode": srgb_decode,
    "akyuz": akyuz,
    "landis": landis,
}
