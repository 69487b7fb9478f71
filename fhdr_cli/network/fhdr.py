"""The FHDR network (Khan, Khanna & Raman, GlobalSIP 2019) in one readable file.

    LDR x ──FEB(conv3x3, conv3x3)──► F ─┐
                                        ▼
          ┌──────────── feedback block, run `iterations` times ─────────────┐
          │ [F, G] ─1x1─► DRDB₁ ─► DRDB₂ ─► DRDB₃ ─cat─1x1─3x3─► G (global)  │
          │   each DRDB: [in, L] ─1x1─► 4 dilated 3x3 (dense, growth 32)     │
          │              ─1x1─► L (its local hidden state), + in            │
          └──────────────────────────────────────────────────────────────────┘
          G + FEB₁ (global residual) ──HRB(conv3x3, conv3x3)──► HDR, one per iteration

Hidden states are local variables of one forward call, never attributes: the
authors' code kept them on ``self``, so an image saw the previous image's state.

Output head (our one deviation from the authors' code, which ends in tanh and
emits HDR min-max normalised to [0, 1]): the last convolution predicts a
per-pixel log gain over the sRGB-decoded input, ``hdr = srgb_to_linear(x) *
exp(y)``. Well-exposed pixels therefore keep the input's scale (the product's
output convention), highlights can exceed 1.0 without bound, and a zero-initialised
last layer starts training from the "sRGB decoding only" answer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..colour.transfer import srgb_to_linear

# exp(LOG_GAIN_MAX) ~ 2^17 above the input: far past any real highlight, still finite in half floats
LOG_GAIN_MIN, LOG_GAIN_MAX = -8.0, 12.0
# the detail's local mean: a Gaussian cut at 4 sigma (the tiles' overlap grows by that), sigma at most 16 px
DETAIL_TRUNCATE, MAX_DETAIL_SIGMA = 4.0, 16.0


@dataclass(frozen=True)
class FHDRConfig:
    channels: int = 64  # feature width everywhere outside the dense layers
    growth: int = 32  # channels added by each dense layer
    dense_layers: int = 4  # dilated 3x3 convolutions per dense block
    dense_blocks: int = 3  # dilated dense blocks per feedback pass
    dilation: int = 2

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GainCalibration:
    """How much of the predicted log gain reaches the output, by how bright the photo is there.

    The log gain does two jobs. In well-exposed pixels it undoes the camera's curve: a guess (a
    gamma-2.6 photo and one through a film-like curve look alike) whose misses HDR-FLIP punishes.
    Near clipping it brings back the light the photo lost, which only the network knows. Scaling the
    two apart lets a calibration damp the first and keep the second: the scale is `well_exposed`
    where the photo's brightest channel is at most `knee_low`, `near_clipped` from `knee_high` up,
    and a smoothstep between.

    `detail_sigma` > 0 keeps only the detail of the well-exposed log gain: its deviation from its
    local mean (Gaussian, `detail_sigma` px, over well-exposed pixels). The photo recorded those
    pixels' brightness; the network's slow shifts of it there are guesses that cost HDR-FLIP and
    SSIM-mu, while its fine detail (8-bit steps, noise and JPEG blocks smoothed away) is what
    raises SSIM-mu (model card, session 9). The mean reads `radius` pixels around each pixel, which
    the tiles' overlap adds, so tiled output stays exact.
    """

    well_exposed: float = 1.0
    near_clipped: float = 1.0
    knee_low: float = 0.85
    knee_high: float = 0.99
    detail_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.well_exposed <= 4.0 and 0.0 <= self.near_clipped <= 4.0
                and 0.0 <= self.knee_low < self.knee_high <= 1.0 and 0.0 <= self.detail_sigma <= MAX_DETAIL_SIGMA):
            raise ValueError(f"gain calibration out of range: {self}")

    @property
    def is_identity(self) -> bool:
        return self.well_exposed == self.near_clipped == 1.0 and self.detail_sigma == 0.0

    @property
    def radius(self) -> int:
        """Pixels of context the calibrated log gain reads on each side of a pixel."""
        return math.ceil(DETAIL_TRUNCATE * self.detail_sigma)

    def near_clipping(self, ldr: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) photo in [0, 1] -> (N, 1, H, W): 0 where well exposed, 1 near clipping."""
        t = ((ldr.amax(1, keepdim=True) - self.knee_low) / (self.knee_high - self.knee_low)).clamp(0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    def scale(self, ldr: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) photo in [0, 1] -> (N, 1, H, W) factor for its log gain."""
        return self._scale(self.near_clipping(ldr))

    def _scale(self, near_clipping: torch.Tensor) -> torch.Tensor:
        return self.well_exposed + (self.near_clipped - self.well_exposed) * near_clipping

    def apply(self, ldr: torch.Tensor, log_gain: torch.Tensor) -> torch.Tensor:
        """The calibrated log gain: scaled per zone, and in well-exposed pixels without its local mean."""
        if self.is_identity:
            return log_gain
        near_clipping = self.near_clipping(ldr)
        calibrated = log_gain * self._scale(near_clipping)
        if self.detail_sigma:
            well_exposed = 1.0 - near_clipping
            local_mean = _weighted_gaussian_mean(log_gain, well_exposed, self.detail_sigma, self.radius)
            calibrated = calibrated - self.well_exposed * well_exposed * local_mean
        return calibrated

    def with_highlights(self, factor: float) -> "GainCalibration":
        """This calibration with the log gain near clipping `factor` times as large: the user's say on how
        bright the recovered light comes out (a highlight lifted by 4 stops comes out 4 x factor stops up)."""
        return replace(self, near_clipped=self.near_clipped * factor)

    def as_dict(self) -> dict:
        return asdict(self)


def _weighted_gaussian_mean(x: torch.Tensor, weight: torch.Tensor, sigma: float, radius: int) -> torch.Tensor:
    """Gaussian mean of `x` (N, C, H, W) weighted by `weight` (N, 1, H, W), in float32 whatever the
    autocast; borders replicate, so that a window cut at the photo's edge sees what the whole photo does."""
    with torch.autocast(x.device.type, enabled=False):
        taps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
        kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
        kernel = kernel / kernel.sum()
        x, weight = x.float(), weight.float()
        # numerator and denominator in one separable pass (depthwise convolutions run fastest contiguous)
        stack = torch.cat((x * weight, weight), dim=1).contiguous()
        c = stack.shape[1]
        stack = F.conv2d(F.pad(stack, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        stack = F.conv2d(F.pad(stack, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
        return stack[:, :-1] / stack[:, -1:].clamp_min(1e-6)


def hdr_from_log_gain(ldr: torch.Tensor, log_gain: torch.Tensor, calibration: GainCalibration) -> torch.Tensor:
    """The output head's last step, shared by every engine: sRGB-decoded photo x exp(calibrated log gain).
    In float32: under bf16 autocast exp() would round every output by up to 0.4 %."""
    ldr, log_gain = ldr.float(), log_gain.float()
    log_gain = calibration.apply(ldr, log_gain)
    return srgb_to_linear(ldr) * torch.exp(log_gain.clamp(LOG_GAIN_MIN, LOG_GAIN_MAX))


class DilatedDenseBlock(nn.Module):
    """A dilated residual dense block with its own hidden state fed back across iterations."""

    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c, g = cfg.channels, cfg.growth
        self.compress = nn.Conv2d(2 * c, c, 1)  # fuses [input, local hidden state]
        self.dense = nn.ModuleList(
            nn.Conv2d(c + i * g, g, 3, padding=cfg.dilation, dilation=cfg.dilation)
            for i in range(cfg.dense_layers)
        )
        self.fuse = nn.Conv2d(c + cfg.dense_layers * g, c, 1, bias=False)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.compress(torch.cat((x, hidden), dim=1))
        for conv in self.dense:
            features = torch.cat((features, F.relu(conv(features))), dim=1)
        new_hidden = self.fuse(features)
        return new_hidden + x, new_hidden


class FeedbackBlock(nn.Module):
    """One pass: fuse features with the global hidden state, three dense blocks, global fusion."""

    def __init__(self, cfg: FHDRConfig):
        super().__init__()
        c = cfg.channels
        self.compress = nn.Conv2d(2 * c, c, 1)
        self.blocks = nn.ModuleList(DilatedDenseBlock(cfg) for _ in range(cfg.dense_blocks))
        self.fuse_1x1 = nn.Conv2d(cfg.dense_blocks * c, c, 1)
        self.fuse_3x3 = nn.Conv2d(c, c, 3, padding=1)

    def forward(
        self, features: torch.Tensor, hidden: torch.Tensor, local_hidden: list[torch.Tensor] | None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``local_hidden=None`` on the first pass: each block's state starts as its own input,
        as in the authors' code (only known once the previous block has run)."""
        x = self.compress(torch.cat((features, hidden), dim=1))
        outputs, new_local = [], []
        for i, block in enumerate(self.blocks):
            x, state = block(x, x if local_hidden is None else local_hidden[i])
            outputs.append(x)
            new_local.append(state)
        out = F.relu(self.fuse_1x1(torch.cat(outputs, dim=1)))
        return F.relu(self.fuse_3x3(out)), new_local


class FHDR(nn.Module):
    """FHDR: LDR image in [0, 1] (N, 3, H, W) -> scene-linear HDR, one image per feedback iteration."""

    architecture = "ours"  # authors.AuthorsFHDR is "authors"
    max_iterations = 4  # the paper's setting; every iteration's output is supervised
    feedback_class: type[nn.Module] = FeedbackBlock  # the authors' variant has its own

    def __init__(self, cfg: FHDRConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or FHDRConfig()
        c = cfg.channels
        self.feb1 = nn.Conv2d(3, c, 3)  # reflect-padded by hand, as in the paper's code
        self.feb2 = nn.Conv2d(c, c, 3, padding=1)
        self.feedback = self.feedback_class(cfg)
        self.hrb1 = nn.Conv2d(c, c, 3, padding=1)
        self.hrb2 = nn.Conv2d(c, 3, 3)  # reflect-padded by hand
        nn.init.zeros_(self.hrb2.weight)  # start from "sRGB decoding only" (log gain 0)
        nn.init.zeros_(self.hrb2.bias)
        self.gain_calibration = GainCalibration()  # set from the checkpoint (network/checkpoint.py)

    def forward(self, ldr: torch.Tensor, iterations: int = 4) -> list[torch.Tensor]:
        """Every iteration's HDR image (for training with the loss averaged over iterations)."""
        return list(self._run(ldr, iterations, every_iteration=True))

    def infer(self, ldr: torch.Tensor, iterations: int = 4, calibration: GainCalibration | None = None) -> torch.Tensor:
        """The last iteration's HDR image only; skips the reconstruction block on the others.
        `calibration` replaces the checkpoint's for this call (the converter's `highlights`)."""
        return next(self._run(ldr, iterations, every_iteration=False, calibration=calibration))

    def _run(self, ldr: torch.Tensor, iterations: int, every_iteration: bool,
             calibration: GainCalibration | None = None):
        calibration = self.gain_calibration if calibration is None else calibration
        for fused in self.head_inputs(ldr, iterations, every_iteration):
            yield self.reconstruct(ldr, fused, calibration)

    def head_inputs(self, ldr: torch.Tensor, iterations: int = 4, every_iteration: bool = False):
        """What the reconstruction block sees: the feedback state plus the first features (the
        global residual), for every iteration or the last only. Training the head alone caches these."""
        if not 1 <= iterations <= self.max_iterations:
            raise ValueError(f"iterations must be 1..{self.max_iterations}, got {iterations}")
        feb1 = F.relu(self.feb1(F.pad(self.network_input(ldr), (1, 1, 1, 1), mode="reflect")))
        features = F.relu(self.feb2(feb1))
        hidden, local_hidden = features, None  # the authors start the global state as the features
        for i in range(iterations):
            hidden, local_hidden = self.feedback(features, hidden, local_hidden)
            if every_iteration or i == iterations - 1:
                yield hidden + feb1

    def context_radius(self, iterations: int) -> int:
        """Pixels of context one output pixel depends on, per side: the network's and the calibration's."""
        return receptive_radius(iterations, self.cfg) + self.gain_calibration.radius

    def network_input(self, ldr: torch.Tensor) -> torch.Tensor:
        """What the first convolution sees: the photo in [0, 1] as it is."""
        return ldr

    def reconstruct(self, ldr: torch.Tensor, fused: torch.Tensor, calibration: GainCalibration) -> torch.Tensor:
        """The HDR image from the head's input (`head_inputs`) through the reconstruction block."""
        log_gain = self.hrb2(F.pad(F.relu(self.hrb1(fused)), (1, 1, 1, 1), mode="reflect"))
        return hdr_from_log_gain(ldr, log_gain, calibration)

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> "FHDR":
        """Build the model whose shape the weights describe, then load them (strictly)."""
        channels = state_dict["feb1.weight"].shape[0]
        blocks = sorted({int(k.split(".")[2]) for k in state_dict if k.startswith("feedback.blocks.")})
        layers = sorted({int(k.split(".")[4]) for k in state_dict if k.startswith("feedback.blocks.0.dense.")})
        cfg = FHDRConfig(
            channels=channels,
            growth=state_dict["feedback.blocks.0.dense.0.weight"].shape[0],
            dense_layers=len(layers),
            dense_blocks=len(blocks),
            dilation=FHDRConfig.dilation,
        )
        model = cls(cfg)
        model.load_state_dict(state_dict)
        return model


def receptive_radius(iterations: int, cfg: FHDRConfig = FHDRConfig()) -> int:
    """Pixels of context the output at iteration `iterations` depends on, per side.

    Each feedback pass re-reads the previous pass's hidden states, so the radius
    grows by one pass per iteration: dense 3x3 convs (dilated) in every block
    plus the 3x3 fusion, on top of the two FEB and two HRB convolutions.
    """
    per_pass = cfg.dense_blocks * cfg.dense_layers * cfg.dilation + 1
    return 2 + iterations * per_pass + 2


def flops_per_pixel(iterations: int, cfg: FHDRConfig = FHDRConfig(), every_iteration: bool = False) -> int:
    """Analytic FLOPs (2 x multiply-accumulates) per output pixel of one inference."""
    c, g = cfg.channels, cfg.growth
    dense = sum((c + i * g) * g * 9 for i in range(cfg.dense_layers))
    block = 2 * c * c + dense + (c + cfg.dense_layers * g) * c
    feedback = 2 * c * c + cfg.dense_blocks * block + cfg.dense_blocks * c * c + c * c * 9
    feb = 3 * c * 9 + c * c * 9
    hrb = c * c * 9 + c * 3 * 9
    reconstructions = iterations if every_iteration else 1
    return 2 * (feb + iterations * feedback + reconstructions * hrb)
