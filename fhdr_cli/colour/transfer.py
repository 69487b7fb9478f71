"""Colour transfer functions shared by inference, training and evaluation (torch tensors)."""

import torch

MU = 5000.0  # mu-law compression used by the paper's loss and by our metrics


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
