"""The paper's VGG19 perceptual loss, for users who have ImageNet VGG19 weights on disk.

The layer layout matches torchvision's ``vgg19().features`` so its state dict
(keys ``features.N.weight``/``bias``, or the bare ``N.weight``) loads directly.
Nothing is downloaded: without a weights file the default SSIM term is used.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import UsageError

_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
_TAPS = {1: 1 / 32, 6: 1 / 16, 11: 1 / 8, 20: 1 / 4, 29: 1.0}  # relu1_1 … relu5_1, pix2pixHD weights


def _vgg19_features() -> nn.Sequential:
    layers, channels = [], 3
    for item in _LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
            channels = item
    return nn.Sequential(*layers)


class VGGPerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 activations of two images in [0, 1] (N, 3, H, W)."""

    def __init__(self, weights_path: Path):
        super().__init__()
        self.features = _vgg19_features()
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            state = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
            self.features.load_state_dict(state)
        except Exception as exc:  # any failure here means "not VGG19 weights"
            raise UsageError(f"{weights_path}: not a VGG19 state dict ({type(exc).__name__})") from exc
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x, y = (a - self.mean) / self.std, (b - self.mean) / self.std
        loss = 0.0
        for i, layer in enumerate(self.features[: max(_TAPS) + 1]):
            x, y = layer(x), layer(y)
            if i in _TAPS:
                loss = loss + _TAPS[i] * (x - y.detach()).abs().mean()
        return loss
