"""Colour transfer functions shared by inference, training and evaluation (torch tensors), and the
output convention's anchor (numpy)."""

import numpy as np
import torch

MU = 5000.0  # mu-law compression used by the paper's loss and by our metrics
WELL_EXPOSED = (0.1, 0.9)  # LDR code values trusted to anchor the output's scale


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 sRGB decoding of values in [0, 1]."""
    return torch.where(v <= 0.04045, v / 12.92, ((v.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    """sRGB encoding; values are clipped to [0, 1] first."""
    v = v.clamp(0.0, 1.0)
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def mu_law(v: torch.Tensor, mu: float = MU) -> torch.Tensor:
    """The paper's tonemapper: log(1 + mu*v) / log(1 + mu), for v >= 0 normalised to about [0, 1]."""
    return torch.log1p(mu * v.clamp(min=0.0)) / torch.log1p(torch.tensor(mu, dtype=v.dtype))


def luminance(rgb: torch.Tensor, channel_dim: int = -3) -> torch.Tensor:
    """Rec.709 relative luminance."""
    r, g, b = rgb.unbind(channel_dim)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def anchor_scale(ldr: np.ndarray, linear: np.ndarray) -> float:
    """Factor that puts `linear` on the sRGB-decoded scale of `ldr` over well-exposed pixels.

    That is the product's output convention: whatever the camera curve was, pixels
    that were well exposed in the photo come out equal to its sRGB decoding.
    """
    lo, hi = WELL_EXPOSED
    ok = np.all((ldr > lo) & (ldr < hi), axis=-1) & np.all(linear > 1e-4, axis=-1)
    if ok.sum() < 16:
        return 1.0
    decoded = srgb_to_linear(torch.from_numpy(ldr[ok])).numpy()
    return float(np.median(decoded / linear[ok]))
