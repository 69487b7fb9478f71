"""FHDR inference on the CPU with oneDNN fused convolutions: same numbers, 2.6x as fast as the plain model.

The plain model (model.py) spends a third of its CPU time re-concatenating the
dense blocks' growing feature stacks and on separate ReLU passes. Here every
concatenation feeding a convolution is replaced by its algebraic equivalent,
``conv(cat(a, b)) = conv_a(a) + conv_b(b)``: the weights are split by input
piece once, and each piece's convolution adds into the output in place
(oneDNN's "add" post-op), with the ReLU fused into the last one. Nothing is
concatenated and no activation is copied. The convolution of the features that
every feedback pass starts with is computed once, not once per iteration.

Every activation lives in a `Workspace` of fixed buffers, one per role, that all
tiles (and, kept by the Converter, later photos) share. A fresh tensor per convolution would be a fresh
multi-megabyte allocation, which glibc serves with mmap: the kernel then
faults in and zeroes every page, and on a 2-core machine that cost 40 % of
the run time (a third of it in the kernel).

Results match ``FHDR.infer`` to float32 rounding (summation order differs); a test checks it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fhdr import FHDR, FHDRConfig, GainCalibration, hdr_from_log_gain

_CL = torch.channels_last


def onednn_available() -> bool:
    """oneDNN's fused CPU convolutions ship with every x86/ARM CPU build of PyTorch, but check."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def conv_accumulate(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    padding: list[int], dilation: list[int], relu: bool = False) -> None:
    """out += conv(x) (+ bias), optionally followed by ReLU, in one oneDNN call writing `out` in place."""
    torch.ops.mkldnn._convolution_pointwise_.binary(
        out, x, weight, bias, padding, [1, 1], dilation, 1, "add", None, "relu" if relu else None, [], ""
    )


class _Conv:
    """One convolution's weights, split by the input pieces it reads (in concatenation order)."""

    def __init__(self, conv: nn.Conv2d, pieces: list[int] | None = None):
        weight = conv.weight.detach()
        splits = pieces or [weight.shape[1]]
        self.weights = [w.contiguous(memory_format=_CL) for w in torch.split(weight, splits, dim=1)]
        self.bias = None if conv.bias is None else conv.bias.detach()
        self.padding, self.dilation = list(conv.padding), list(conv.dilation)

    def __call__(self, out: torch.Tensor, *inputs: torch.Tensor, relu: bool = False, first_piece: int = 0,
                 accumulate: bool = False) -> torch.Tensor:
        """out = conv over cat(inputs), which are pieces first_piece, first_piece+1, ... of the input.

        With ``accumulate`` the result is added to what `out` holds (which must then include the bias).
        """
        if not accumulate:
            out.zero_()
        weights = self.weights[first_piece : first_piece + len(inputs)]
        for i, (x, w) in enumerate(zip(inputs, weights)):
            bias = self.bias if i == 0 and not accumulate else None
            conv_accumulate(out, x, w, bias, self.padding, self.dilation, relu=relu and i == len(inputs) - 1)
        return out


class Workspace:
    """Activation buffers for images of up to `pixels` pixels (batch x height x width).

    One buffer per role, sized once: every convolution, tile and photo that fits
    reuses them, so the memory is allocated (and faulted in) once, not once per
    convolution. 2.8 KB per pixel with the paper's configuration.
    """

    def __init__(self, pixels: int, cfg: FHDRConfig = FHDRConfig()):
        c, g = cfg.channels, cfg.growth
        self.pixels = pixels
        widths = {"feb1": c, "from_features": c, "hidden": c, "spare": c, "x": c, "compressed": c}
        widths |= {f"local{i}": c for i in range(cfg.dense_blocks)}
        widths |= {f"dense{i}": g for i in range(cfg.dense_layers)}
        # written once now: the kernel faults the pages in here, not in the middle of the first photo
        self._buffers = {name: (width, torch.empty(pixels * width).zero_()) for name, width in widths.items()}
        self._padded = torch.empty(0)  # the reconstruction block's reflect-padded input, grown on demand

    def views(self, n: int, h: int, w: int) -> dict[str, torch.Tensor]:
        """Every buffer as an (n, C, h, w) channels-last tensor."""
        if n * h * w > self.pixels:
            raise ValueError(f"a {n}x{h}x{w} input does not fit a workspace of {self.pixels} pixels")
        return {
            name: flat[: n * h * w * c].view(n, h, w, c).permute(0, 3, 1, 2)
            for name, (c, flat) in self._buffers.items()
        }

    def reflect_pad(self, x: torch.Tensor) -> torch.Tensor:
        """``F.pad(x, (1, 1, 1, 1), mode="reflect")`` written into a kept buffer instead of a fresh one."""
        n, c, h, w = x.shape
        size = n * c * (h + 2) * (w + 2)
        if self._padded.numel() < size:
            self._padded = torch.empty(size)
        out = self._padded[:size].view(n, h + 2, w + 2, c).permute(0, 3, 1, 2)
        out[:, :, 1:-1, 1:-1] = x
        out[:, :, 0, 1:-1], out[:, :, -1, 1:-1] = x[:, :, 1], x[:, :, -2]
        out[:, :, :, 0], out[:, :, :, -1] = out[:, :, :, 2], out[:, :, :, -3]  # corners included
        return out


class FusedFHDR:
    """Inference-only view of an FHDR model's weights (CPU, float32). Call ``infer``."""

    def __init__(self, model: FHDR):
        cfg = model.cfg
        c, g = cfg.channels, cfg.growth
        self.cfg = cfg
        self.feb1, self.feb2 = _Conv(model.feb1), _Conv(model.feb2)
        fb = model.feedback
        self.compress = _Conv(fb.compress, [c, c])
        self.blocks = [
            (
                _Conv(block.compress, [c, c]),
                [_Conv(conv, [c] + [g] * i) for i, conv in enumerate(block.dense)],
                _Conv(block.fuse, [c] + [g] * cfg.dense_layers),
            )
            for block in fb.blocks
        ]
        self.fuse_1x1 = _Conv(fb.fuse_1x1, [c] * cfg.dense_blocks)
        self.fuse_3x3 = _Conv(fb.fuse_3x3)
        self.hrb1, self.hrb2 = _Conv(model.hrb1), _Conv(model.hrb2)
        self.gain_calibration = model.gain_calibration

    @torch.inference_mode()
    def infer(self, ldr: torch.Tensor, iterations: int = 4, workspace: Workspace | None = None,
              calibration: GainCalibration | None = None) -> torch.Tensor:
        """The last iteration's HDR image; pass a `workspace` to reuse buffers across calls (tiles), and a
        `calibration` to replace the checkpoint's for this call."""
        if not 1 <= iterations <= FHDR.max_iterations:
            raise ValueError(f"iterations must be 1..{FHDR.max_iterations}, got {iterations}")
        n, _, h, w = ldr.shape
        workspace = workspace or Workspace(n * h * w, self.cfg)
        buf = workspace.views(n, h, w)
        ldr = ldr.contiguous(memory_format=_CL)
        feb1 = self.feb1(buf["feb1"], F.pad(ldr, (1, 1, 1, 1), mode="reflect"), relu=True)
        hidden = self.feb2(buf["hidden"], feb1, relu=True)  # the features, which also start as the global state
        spare = buf["spare"]
        # compress(cat(features, hidden)): the features' half is the same on every pass
        from_features = self.compress(buf["from_features"], hidden)
        x = buf["x"]
        local = [buf[f"local{i}"] for i in range(len(self.blocks))]
        dense_out = [buf[f"dense{i}"] for i in range(len(self.blocks[0][1]))]
        last_block = len(self.blocks) - 1
        for iteration in range(iterations):
            self.compress(x.copy_(from_features), hidden, first_piece=1, accumulate=True)
            fused_blocks = hidden  # the state was read above: its buffer now collects fuse_1x1 over the blocks
            for i, (compress, dense, fuse) in enumerate(self.blocks):
                # on the first pass each block's local state starts as its own input
                pieces = [compress(buf["compressed"], x, x if iteration == 0 else local[i])]
                for conv, out in zip(dense, dense_out):
                    pieces.append(conv(out, *pieces, relu=True))
                fuse(local[i], *pieces)  # the block's previous state was read by compress above
                x += local[i]
                self.fuse_1x1(fused_blocks, x, first_piece=i, accumulate=i > 0, relu=i == last_block)
            hidden, spare = self.fuse_3x3(spare, fused_blocks, relu=True), fused_blocks
        fused = feb1.add_(hidden)  # global residual; the features are not needed again
        head = self.hrb1(spare, fused, relu=True)
        log_gain = self.hrb2(torch.empty(n, 3, h, w).contiguous(memory_format=_CL), workspace.reflect_pad(head))
        return hdr_from_log_gain(ldr, log_gain, self.gain_calibration if calibration is None else calibration)
