"""The authors' FHDR (mukulkhanna/FHDR, ``model.py``), so their released checkpoints run here.

Their release (``FHDR-iter-1.ckpt``, ...) is a plain ``state_dict`` in their key layout::

    feb1, feb2                                   feature extraction (3x3, 3x3)
    feedback_block.compress_in                   1x1 over [features, global hidden state]
    feedback_block.DRDB1..3.compress             1x1 over [input, the block's hidden state]
    feedback_block.DRDB1..3.dense_layers.N.conv  dilated 3x3, growth 32, no bias
    feedback_block.DRDB1..3.conv_1x1             1x1 fusion, no bias; the block's output AND hidden state
    feedback_block.GFF_3x3                       3x3 after the last block, ReLU; the global hidden state
    hrb1, hrb2                                   reconstruction (3x3, 3x3), then tanh

What differs from our network (model.py): no local residual in the dense blocks, bias-free
dense and 1x1 fusion convolutions, no 1x1 fusion of the three block outputs (only the 3x3
after the last block), input scaled to [-1, 1] and a tanh output, read as (tanh + 1) / 2:
linear radiance up to an unknown scale (they min-max normalised their targets), which the
converter anchors to the photo (pipeline.py). Their module kept the hidden states on ``self``
(and never reset them between images); here they are local to one forward call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import FHDRConfig

# A key only their layout has: how a state dict is recognised as theirs.
SIGNATURE_KEY = "feedback_block.compress_in.weight"
DATA_PARALLEL_PREFIX = "module."  # torch.nn.DataParallel's wrapper names every key module.<key>


class _DenseLayer(nn.Module):
    """One dilated 3x3 convolution whose ReLU output is appended to its input (key ``.conv``)."""

    def __init__(self, in_channels: int, growth: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, growth, 3, padding=dilation, dilation=dilation, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, F.relu(self.conv(x))), dim=1)


class _DenseBlock(nn.Module):
    """Their DRDB: [input, hidden] -1x1-> dense layers -1x1-> output, which is also the new hidden state."""

    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c, g = cfg.channels, cfg.growth
        self.compress = nn.Conv2d(2 * c, c, 1)
        self.dense_layers = nn.Sequential(*(_DenseLayer(c + i * g, g, cfg.dilation) for i in range(cfg.dense_layers)))
        self.conv_1x1 = nn.Conv2d(c + cfg.dense_layers * g, c, 1, bias=False)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return self.conv_1x1(self.dense_layers(self.compress(torch.cat((x, hidden), dim=1))))


class _FeedbackBlock(nn.Module):
    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c = cfg.channels
        self.compress_in = nn.Conv2d(2 * c, c, 1)
        for i in range(cfg.dense_blocks):  # their attribute names, so their keys load as they are
            self.add_module(f"DRDB{i + 1}", _DenseBlock(cfg))
        self.GFF_3x3 = nn.Conv2d(c, c, 3, padding=1)
        self.dense_blocks = cfg.dense_blocks

    def forward(self, features: torch.Tensor, hidden: torch.Tensor,
                local_hidden: list[torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``local_hidden=None`` on the first pass: each block's state starts as its own input, as in their code."""
        x = self.compress_in(torch.cat((features, hidden), dim=1))
        new_local = []
        for i in range(self.dense_blocks):
            x = getattr(self, f"DRDB{i + 1}")(x, x if local_hidden is None else local_hidden[i])
            new_local.append(x)
        return F.relu(self.GFF_3x3(x)), new_local


class AuthorsFHDR(nn.Module):
    """The authors' FHDR: LDR image in [0, 1] (N, 3, H, W) -> linear HDR in [0, 1] up to an unknown scale."""

    architecture = "authors"
    max_iterations = 4  # their feedback runs any count; our CLI offers the paper's 1..4

    def __init__(self, cfg: FHDRConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or FHDRConfig()
        c = cfg.channels
        self.feb1 = nn.Conv2d(3, c, 3)  # reflect-padded by hand, as in their code
        self.feb2 = nn.Conv2d(c, c, 3, padding=1)
        self.feedback_block = _FeedbackBlock(cfg)
        self.hrb1 = nn.Conv2d(c, c, 3, padding=1)
        self.hrb2 = nn.Conv2d(c, 3, 3)  # reflect-padded by hand

    def forward(self, ldr: torch.Tensor, iterations: int = 4) -> list[torch.Tensor]:
        """Every iteration's HDR image."""
        return list(self._run(ldr, iterations, every_iteration=True))

    def infer(self, ldr: torch.Tensor, iterations: int = 4) -> torch.Tensor:
        """The last iteration's HDR image only."""
        return next(self._run(ldr, iterations, every_iteration=False))

    def _run(self, ldr: torch.Tensor, iterations: int, every_iteration: bool):
        if not 1 <= iterations <= self.max_iterations:
            raise ValueError(f"iterations must be 1..{self.max_iterations}, got {iterations}")
        x = ldr * 2.0 - 1.0  # they trained on torchvision's Normalize(0.5, 0.5): [-1, 1]
        feb1 = F.relu(self.feb1(F.pad(x, (1, 1, 1, 1), mode="reflect")))
        features = F.relu(self.feb2(feb1))
        hidden, local_hidden = features, None
        for i in range(iterations):
            hidden, local_hidden = self.feedback_block(features, hidden, local_hidden)
            if every_iteration or i == iterations - 1:
                out = self.hrb2(F.pad(F.relu(self.hrb1(hidden + feb1)), (1, 1, 1, 1), mode="reflect"))
                yield (torch.tanh(out.float()) + 1.0) / 2.0  # float32 head, as in model.py

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> "AuthorsFHDR":
        """Build the model whose shape the weights describe (DataParallel's prefix removed), then load them strictly."""
        state_dict = strip_data_parallel(state_dict)
        blocks = {k.split(".")[1] for k in state_dict if k.startswith("feedback_block.DRDB")}
        layers = {k.split(".")[3] for k in state_dict if k.startswith("feedback_block.DRDB1.dense_layers.")}
        cfg = FHDRConfig(
            channels=state_dict["feb1.weight"].shape[0],
            growth=state_dict["feedback_block.DRDB1.dense_layers.0.conv.weight"].shape[0],
            dense_layers=len(layers),
            dense_blocks=len(blocks),
            dilation=FHDRConfig.dilation,
        )
        model = cls(cfg)
        model.load_state_dict(state_dict)
        return model


def strip_data_parallel(state_dict: dict) -> dict:
    """Keys without DataParallel's ``module.`` prefix (when every key has it)."""
    if state_dict and all(isinstance(k, str) and k.startswith(DATA_PARALLEL_PREFIX) for k in state_dict):
        return {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in state_dict.items()}
    return state_dict


def is_authors_state_dict(data: object) -> bool:
    """Whether a loaded file is a plain state dict in the authors' key layout."""
    return isinstance(data, dict) and SIGNATURE_KEY in strip_data_parallel(data)
