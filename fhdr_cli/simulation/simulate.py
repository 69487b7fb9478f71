"""LDR photos simulated from real HDR, as in the paper: exposure, camera curve, noise, 8 bits, JPEG.

Training and evaluation both use this, so the held-out numbers measure the same
task the model was trained on. Every random choice comes from the caller's
``numpy.random.Generator``, which makes evaluation inputs reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..colour.transfer import anchor_scale, linear_to_srgb, srgb_to_linear


# How often each camera curve is drawn. Most photos carry the sRGB curve (phones, JPEGs from
# raw converters); when the curves were drawn equally, the network could not tell them apart in
# the shadows and lifted every sRGB photo's blacks by 1-3 stops. With sRGB above half, the
# L1-optimal answer for an ambiguous photo is its sRGB decoding.
CAMERA_CURVES = {"srgb": 0.6, "gamma": 0.2, "dorf": 0.2}


@dataclass
class SimulatedPair:
    ldr: np.ndarray  # HxWx3 float32 in [0, 1], gamma-encoded, 8-bit quantised (the network's input)
    target: np.ndarray  # HxWx3 float32 scene-linear, in the output convention (see anchor_scale)
    curve: str = "srgb"  # the camera curve that encoded `ldr` (a key of CAMERA_CURVES)
    clip_level: float = 1.0  # the target value at which the sensor clipped


def camera_curve(linear: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A random camera response and its name: sRGB, a plain gamma 1.8–2.6, or the sigmoid fit to DoRF.

    The DoRF fit f(H) = (1+s) H^n / (H^n + s) (n ~ N(0.9, 0.1), s ~ N(0.6, 0.1)) is the
    one used by HDR-reconstruction papers to mimic real cameras; f(1) = 1 for all n, s.
    """
    kind = str(rng.choice(list(CAMERA_CURVES), p=list(CAMERA_CURVES.values())))
    if kind == "srgb":
        return linear_to_srgb(torch.from_numpy(linear)).numpy(), kind
    if kind == "gamma":
        return linear ** (1.0 / rng.uniform(1.8, 2.6)), kind
    n = max(0.5, rng.normal(0.9, 0.1))
    s = max(0.2, rng.normal(0.6, 0.1))
    hn = linear**n
    return (1 + s) * hn / (hn + s), kind


def simulate(hdr: np.ndarray, rng: np.random.Generator, *, jpeg: bool = True) -> SimulatedPair:
    """One LDR capture of the scene `hdr` (HxWx3 linear RGB) and its HDR target."""
    hdr = np.maximum(hdr.astype(np.float32), 0.0)
    white_balance = rng.normal(1.0, 0.03, size=3).astype(np.float32)
    hdr = hdr * (white_balance / white_balance.mean())

    # Expose so that a random 1–15 % of pixels clip in at least one channel.
    clip_fraction = rng.uniform(0.01, 0.15)
    brightest = hdr.max(axis=-1)
    level = float(np.quantile(brightest, 1.0 - clip_fraction))
    if level <= 1e-8:
        level = float(brightest.max()) or 1.0
    exposed = hdr / level

    # Shot + read noise on the sensor, before clipping and the curve.
    shot, read = rng.uniform(0, 2e-3), rng.uniform(0, 2e-3)
    noisy = exposed + rng.standard_normal(exposed.shape).astype(np.float32) * np.sqrt(shot * np.minimum(exposed, 1) + read**2)
    encoded, curve = camera_curve(np.clip(noisy, 0.0, 1.0), rng)
    ldr8 = np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)
    if jpeg and rng.random() < 0.8:
        quality = int(rng.integers(70, 101))
        _, buf = cv2.imencode(".jpg", np.ascontiguousarray(ldr8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        ldr8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    ldr = ldr8.astype(np.float32) / 255.0

    scale = anchor_scale(ldr, exposed)
    return SimulatedPair(ldr=ldr, target=(exposed * scale).astype(np.float32), curve=curve, clip_level=scale)
