"""The authors' FHDR (mukulkhanna/FHDR, ``model.py``), so their released checkpoints run here.

Their release (``FHDR-iter-1.ckpt``, ...) is a plain ``state_dict`` in their key layout::

    feb1, feb2                                   feature extraction (3x3, 3x3)
    feedback_block.compress_in                   1x1 over [features, global hidden state]
    feedback_block.DRDB1..3.compress             1x1 over [input, the block's hidden state]
    feedback_block.DRDB1..3.dense_layers.N.conv  dilated 3x3, growth 32, no bias
    feedback_block.DRDB1..3.conv_1x1             1x1 fusion, no bias; the block's output AND hidden state
    feedback_block.GFF_3x3                       3x3 after the last block, ReLU; the global hidden state
    hrb1, hrb2                                   reconstruction (3x3, 3x3), then tanh

Feature extraction, the feedback loop and the reconstruction block are the ones of our network
(fhdr.py), whose class this one extends; the keys are renamed to ours on loading
(`their_keys_to_ours`). What differs is the feedback block: no local residual in the dense
blocks, bias-free dense and 1x1 fusion convolutions, no 1x1 fusion of the three block outputs
(only the 3x3 after the last block); and the ends: input scaled to [-1, 1], a tanh output read as
(tanh + 1) / 2, linear radiance up to an unknown scale (they min-max normalised their targets),
which the converter anchors to the photo (inference/pipeline.py). Their module kept the hidden states on
``self`` (and never reset them between images); here they are local to one forward call.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from .fhdr import FHDR, FHDRConfig, GainCalibration

# A key only their layout has: how a state dict is recognised as theirs.
SIGNATURE_KEY = "feedback_block.compress_in.weight"
DATA_PARALLEL_PREFIX = "module."  # torch.nn.DataParallel's wrapper names every key module.<key>
# Their module names -> ours, applied in order to every key.
_RENAMES = (
    (r"^feedback_block\.", "feedback."),
    (r"^feedback\.compress_in\.", "feedback.compress."),
    (r"^feedback\.GFF_3x3\.", "feedback.fuse_3x3."),
    (r"^feedback\.DRDB(\d+)\.", lambda m: f"feedback.blocks.{int(m[1]) - 1}."),
    (r"\.dense_layers\.(\d+)\.conv\.", r".dense.\1."),
    (r"\.conv_1x1\.", ".fuse."),
)


class _DenseBlock(nn.Module):
    """Their DRDB: [input, hidden] -1x1-> dense layers -1x1-> output, which is also the new hidden state."""

    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c, g = cfg.channels, cfg.growth
        self.compress = nn.Conv2d(2 * c, c, 1)
        self.dense = nn.ModuleList(
            nn.Conv2d(c + i * g, g, 3, padding=cfg.dilation, dilation=cfg.dilation, bias=False)
            for i in range(cfg.dense_layers)
        )
        self.fuse = nn.Conv2d(c + cfg.dense_layers * g, c, 1, bias=False)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        features = self.compress(torch.cat((x, hidden), dim=1))
        for conv in self.dense:
            features = torch.cat((features, F.relu(conv(features))), dim=1)
        return self.fuse(features)


class _FeedbackBlock(nn.Module):
    """Their feedback block: the dense blocks in a chain, then one 3x3 with ReLU (the global state)."""

    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c = cfg.channels
        self.compress = nn.Conv2d(2 * c, c, 1)
        self.blocks = nn.ModuleList(_DenseBlock(cfg) for _ in range(cfg.dense_blocks))
        self.fuse_3x3 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, features: torch.Tensor, hidden: torch.Tensor,
                local_hidden: list[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``local_hidden=None`` on the first pass: each block's state starts as its own input, as in their code."""
        x = self.compress(torch.cat((features, hidden), dim=1))
        new_local = []
        for i, block in enumerate(self.blocks):
            x = block(x, x if local_hidden is None else local_hidden[i])
            new_local.append(x)
        return F.relu(self.fuse_3x3(x)), new_local


class AuthorsFHDR(FHDR):
    """The authors' FHDR: LDR image in [0, 1] (N, 3, H, W) -> linear HDR in [0, 1] up to an unknown scale."""

    architecture = "authors"
    feedback_class = _FeedbackBlock  # max_iterations stays 4: their feedback runs any count, our CLI offers 1..4

    def network_input(self, ldr: torch.Tensor) -> torch.Tensor:
        return ldr * 2.0 - 1.0  # they trained on torchvision's Normalize(0.5, 0.5): [-1, 1]

    def reconstruct(self, ldr: torch.Tensor, fused: torch.Tensor, calibration: GainCalibration) -> torch.Tensor:
        # their head emits HDR itself, with no log gain to calibrate
        out = self.hrb2(F.pad(F.relu(self.hrb1(fused)), (1, 1, 1, 1), mode="reflect"))
        return (torch.tanh(out.float()) + 1.0) / 2.0  # float32 head, as ours

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> "AuthorsFHDR":
        """Their checkpoint (with or without DataParallel's prefix), renamed to our keys and loaded strictly."""
        return super().from_state_dict(their_keys_to_ours(strip_data_parallel(state_dict)))


def their_keys_to_ours(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def strip_data_parallel(state_dict: dict) -> dict:
    """Keys without DataParallel's ``module.`` prefix (when every key has it)."""
    if state_dict and all(isinstance(k, str) and k.startswith(DATA_PARALLEL_PREFIX) for k in state_dict):
        return {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in state_dict.items()}
    return state_dict


def is_authors_state_dict(data: object) -> bool:
    """Whether a loaded file is a plain state dict in the authors' key layout."""
    return isinstance(data, dict) and SIGNATURE_KEY in strip_data_parallel(data)
