"""Display previews of HDR images: uint8 HxWx3 arrays a person can look at on an ordinary screen.

Input is HxWx3 linear RGB on the product's scale (well-exposed photo pixels equal
their sRGB decoding), so EV 0 of `exposure` looks like the original photo and
negative EVs reveal what was recovered in its highlights.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import torch

from .transfer import linear_to_srgb, luminance, mu_law

REINHARD_KEY = 0.18  # Reinhard et al. 2002: middle grey of a normal-key scene
LOG_AVG_DELTA = 1e-6  # keeps log() finite on black pixels
STRIP_EVS = (-6, -4, -2, 0, 2)


def _to_uint8(display: torch.Tensor) -> np.ndarray:
    """Display values (clipped to [0, 1]) quantised to uint8."""
    return np.round(display.clamp(0.0, 1.0).numpy() * 255.0).astype(np.uint8)


def _as_tensor(hdr: np.ndarray) -> torch.Tensor:
    """Float64 so huge radiances survive the scalings below without overflowing; negatives are noise."""
    return torch.from_numpy(np.asarray(hdr, dtype=np.float64)).clamp(min=0.0)


def reinhard(hdr: np.ndarray, exposure_ev: float = 0.0) -> np.ndarray:
    """Reinhard 2002 global operator, as in the paper's figures, colour preserved.

    The image is scaled so its log-average luminance becomes the key 0.18, then
    compressed by L / (1 + L), which never saturates however bright the input.
    The key scaling would cancel a plain exposure change, so `exposure_ev`
    multiplies the key instead. RGB is divided by (1 + L) rather than rescaled by
    L'/L, which keeps hue and needs no division by a possibly zero luminance.
    """
    rgb = _as_tensor(hdr)
    lum = luminance(rgb, channel_dim=-1)
    log_average = torch.exp(torch.log(LOG_AVG_DELTA + lum).mean())
    scaled = rgb * (REINHARD_KEY * 2.0**exposure_ev / log_average)
    display = scaled / (1.0 + luminance(scaled, channel_dim=-1)).unsqueeze(-1)
    return _to_uint8(linear_to_srgb(display))


def mu_law_preview(hdr: np.ndarray, exposure_ev: float = 0.0) -> np.ndarray:
    """The image as the paper's loss sees it: divided by its peak, mu-law compressed.

    Mu-law is already a display-like encoding, so its values are shown directly
    (no sRGB on top). `exposure_ev` scales after the peak normalisation, which
    would otherwise cancel it.
    """
    rgb = _as_tensor(hdr)
    peak = float(rgb.max()) or 1.0
    return _to_uint8(mu_law(rgb * (2.0**exposure_ev / peak)))


def exposure(hdr: np.ndarray, exposure_ev: float = 0.0) -> np.ndarray:
    """What a camera would record at `exposure_ev` stops: multiply by 2^EV, clip, sRGB encode."""
    return _to_uint8(linear_to_srgb(_as_tensor(hdr) * 2.0**exposure_ev))


OPERATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "reinhard": reinhard,
    "mu-law": mu_law_preview,
    "exposure": exposure,
}


def _label(panel: np.ndarray, text: str) -> None:
    """Small white text with a dark outline in the top-left corner, readable on any content."""
    scale = max(0.3, panel.shape[0] / 500)
    thickness = max(1, round(scale * 1.5))
    _, text_h = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0]
    origin = (max(2, text_h // 2), text_h + max(2, text_h // 2))
    for colour, extra in (((0, 0, 0), 2), ((255, 255, 255), 0)):
        cv2.putText(panel, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness + extra, cv2.LINE_AA)


def exposure_strip(hdr: np.ndarray, evs: tuple[float, ...] = STRIP_EVS, *, gap: int = 4,
                   max_width: int = 3000) -> np.ndarray:
    """The image at each EV in `evs`, side by side with `gap` black columns between panels.

    One picture shows at a glance whether highlights were recovered: in the
    negative-EV panels a real HDR image still has detail where the photo clipped.
    Panels are downscaled (area-averaged, in linear light) so the strip is at
    most `max_width` pixels wide.
    """
    height, width = hdr.shape[:2]
    panel_width = min(width, max(1, (max_width - gap * (len(evs) - 1)) // len(evs)))
    if panel_width < width:
        panel_height = max(1, round(height * panel_width / width))
        hdr = cv2.resize(np.asarray(hdr, dtype=np.float32), (panel_width, panel_height), interpolation=cv2.INTER_AREA)
    panels = []
    for ev in evs:
        panel = np.ascontiguousarray(exposure(hdr, ev))
        _label(panel, f"{ev:+g} EV")
        panels.append(panel)
    separator = np.zeros((hdr.shape[0], gap, 3), dtype=np.uint8)
    pieces = [piece for panel in panels for piece in (separator, panel)][1:]
    return np.concatenate(pieces, axis=1)


def encode_png(rgb_uint8: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image (OpenCV expects BGR)."""
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb_uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode an array of shape {rgb_uint8.shape} and dtype {rgb_uint8.dtype} as PNG")
    return buffer.tobytes()
