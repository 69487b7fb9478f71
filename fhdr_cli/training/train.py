"""Training FHDR on simulated LDR/HDR pairs cut from real HDR scenes.

Loss, as in the paper: L1 between mu-law tonemapped output and target at every
feedback iteration, averaged over iterations, plus a perceptual term. The
paper's perceptual term uses ImageNet VGG19 features, which cannot be
downloaded here; by default we use 1 - SSIM on the same mu-law images (it ships
offline, needs no weights and rewards local structure the way VGG features do);
``vgg_weights`` switches to the paper's VGG19 term for users who have them.

Two terms of ours sit beside it. The paper's mu-law images are normalised by the
target's peak, so with a light source in view everything else is crushed to black
and the loss stops seeing shadows and surfaces; ``log_weight`` adds L1 on mu-law
images at the photo's own scale (LDR white = 1), which is L1 in log space from about
1e-4 of white up to any light. And what users feel most is the light a clipped
region emits: ``light_weight`` adds |log(sum of predicted luminance / sum of true
luminance)| over the pixels clipped in the input, per image.

Runs are budgeted in minutes, checkpoint atomically, and resume exactly where
they stopped (model, optimizer, step count and the accumulated training summary).
"""

from __future__ import annotations

import csv
import math
import os
import platform
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..colour.transfer import luminance, mu_law
from ..errors import UsageError
from ..evaluation.metrics import align_exposure, clipped_mask, clipped_regions, hdr_flip, ssim
from ..inference.device import resolve_device, set_threads
from ..network.checkpoint import load_checkpoint, save_checkpoint
from ..network.fhdr import FHDR
from ..simulation.light_sources import add_lens_glare, add_light_sources
from ..simulation.scenes import VALIDATION_SCENES, Scene, load_scenes, random_view
from ..simulation.simulate import SimulatedPair, simulate
from .perceptual import VGGPerceptualLoss


@dataclass
class TrainSettings:
    data: Path | tuple[Path, ...]  # one folder of .exr/.hdr scenes, or several
    data_weights: tuple[float, ...] | None = None  # each folder's share of the crops; None: every scene alike
    out: Path = Path("runs/fhdr.pt")  # last checkpoint (resumable); the best by validation goes to *.best.pt
    iterations: int = 4
    patch: int = 64
    val_patch: int = 96  # validation crops; larger ones show the light and its context as photos do
    batch: int = 8
    lr: float = 2e-4
    lr_decay: str = "cosine"  # "cosine": down to lr/20 at the end of the time budget; "none": constant
    device: str = "auto"
    minutes: float = 60.0
    resume: Path | None = None
    seed: int = 0
    val_scenes: tuple[str, ...] = VALIDATION_SCENES
    checkpoint_minutes: float = 5.0
    perceptual_weight: float = 0.1  # the paper's text weights its perceptual term 0.1
    vgg_weights: Path | None = None
    threads: int | None = None
    workers: int | None = None  # processes simulating batches; None: 0 on CPU, up to 8 on CUDA
    log: Path | None = None  # CSV; defaults to out with .csv
    select: str = "loss"  # the best checkpoint by validation "loss" or by "flip" (HDR-FLIP, last iteration)
    overshoot_weight: float = 0.0  # extra L1 weight where the output is brighter than the target
    log_weight: float = 0.0  # L1 on mu-law images at the photo's scale (shadows and lights alike)
    light_weight: float = 0.0  # log error of the light emitted by the input's clipped pixels
    region_light_weight: float = 0.0  # the same per clipped region: a lamp and a sky in one view each get their own
    light_probability: float = 0.0  # share of training views given synthetic light sources
    glare_probability: float = 0.0  # share of training views seen through a glaring lens
    precision: str = "auto"  # "bf16" autocast, "fp32", or "auto": bf16 where the device runs it natively


@dataclass
class StepReport:
    step: int
    loss: float
    elapsed_s: float
    val_loss: float | None = None
    val_flip: float | None = None
    saved: bool = False


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms; validation losses compare only under the same weights."""

    perceptual: float = 0.1
    overshoot: float = 0.0
    log: float = 0.0
    light: float = 0.0
    region_light: float = 0.0


LEGACY_LOSS = [0.1, 0.0, 0.0, 0.0]  # checkpoints saved before the weights were recorded (perceptual 0.1 only)
LEGACY_VAL_PATCH = 96  # checkpoints saved before the validation crop size was recorded


def hdr_loss(outputs: list[torch.Tensor], target: torch.Tensor, ldr: torch.Tensor, perceptual: Callable,
             weights: LossWeights = LossWeights()) -> torch.Tensor:
    """Mean over iterations of L1(mu(out), mu(target)) + perceptual, per-sample max-normalised,
    plus the log and light terms (module docstring) where their weights are non-zero.

    `weights.overshoot` makes the L1 asymmetric, (1 + w) |error| where the output is too bright:
    plain L1 aims clipped highlights at the median of what they could be, and HDR-FLIP, judging
    the image at many exposures, punishes the over-bright guesses far more than the dim ones.
    """
    peak = target.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-6)
    target_mu = mu_law(target / peak)
    target_log = mu_law(target) if weights.log else None
    photos = ldr.permute(0, 2, 3, 1).cpu().numpy() if weights.light or weights.region_light else None
    clipped = torch.from_numpy(clipped_mask(photos)).to(target.device) if weights.light else None
    regions = (torch.from_numpy(np.stack([clipped_regions(photo) for photo in photos])).to(target.device)
               if weights.region_light else None)
    total = 0.0
    for out in outputs:
        out_mu = mu_law(out / peak)
        error = out_mu - target_mu
        l1 = error.abs().mean() + weights.overshoot * error.clamp(min=0).mean()
        total = total + l1 + weights.perceptual * perceptual(out_mu, target_mu)
        if weights.log:
            total = total + weights.log * (mu_law(out) - target_log).abs().mean()
        if weights.light:
            total = total + weights.light * light_log_error(out, target, clipped)
        if weights.region_light:
            total = total + weights.region_light * region_light_error(out, target, regions)
    return total / len(outputs)


def light_log_error(out: torch.Tensor, target: torch.Tensor, clipped: torch.Tensor, min_pixels: int = 4) -> torch.Tensor:
    """Mean over images with clipped pixels of |log(sum lum(out) / sum lum(target))| over them."""
    mask = clipped.to(out.dtype)
    count = mask.sum(dim=(1, 2))
    emitted = lambda x: (luminance(x.float()).clamp(min=0) * mask).sum(dim=(1, 2))  # noqa: E731
    error = (torch.log(emitted(out) + 1e-6) - torch.log(emitted(target) + 1e-6)).abs()
    used = count >= min_pixels
    return (error * used).sum() / used.sum().clamp(min=1)


def region_light_error(out: torch.Tensor, target: torch.Tensor, regions: torch.Tensor, min_pixels: int = 4) -> torch.Tensor:
    """|log2(sum lum(out) / sum lum(target))| over each clipped region (`regions`: N x H x W labels,
    0 = not clipped), averaged with weights sqrt(area). Unlike `light_log_error`, a lamp and a sky in
    one view each ask for their own light."""
    batch, labels = out.shape[0], regions.long()
    per_image = int(labels.max()) + 1
    inside = labels.flatten() > 0
    ids = (labels + torch.arange(batch, device=labels.device).view(batch, 1, 1) * per_image).flatten()[inside]
    summed = lambda x: torch.zeros(batch * per_image, device=x.device).index_add_(  # noqa: E731
        0, ids, luminance(x.float()).clamp(min=0).flatten()[inside])
    area = torch.zeros(batch * per_image, device=out.device).index_add_(0, ids, torch.ones_like(ids, dtype=torch.float32))
    used = area >= min_pixels
    if not used.any():
        return out.sum() * 0  # keeps the graph for a batch without regions
    error = (torch.log2(summed(out)[used] + 1e-6) - torch.log2(summed(target)[used] + 1e-6)).abs()
    weight = area[used].sqrt()
    return (error * weight).sum() / weight.sum()


def validation_flip(prediction: torch.Tensor, target: torch.Tensor, ldr: torch.Tensor) -> float:
    """Mean HDR-FLIP over a batch, each image exposure-aligned as `fhdr evaluate` does.

    The training loss (mu-law L1) barely sees over-bright highlights that HDR-FLIP, judging the
    image at many exposures, punishes: a run can lower the one while the other rises.
    """
    as_images = lambda x: x.detach().float().permute(0, 2, 3, 1).cpu().numpy()  # noqa: E731
    pairs = zip(as_images(prediction), as_images(target), as_images(ldr))
    return float(np.mean([hdr_flip(align_exposure(p, t, l), t) for p, t, l in pairs]))


def ssim_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1.0 - ssim(a, b).mean()


def training_pair(scene: Scene, rng: np.random.Generator, size: int, light_probability: float = 0.0,
                  glare_probability: float = 0.0) -> SimulatedPair:
    """One training photo of `scene`: a random view, maybe seen through a glaring lens, maybe given
    synthetic light sources, then exposed and encoded."""
    view = add_lens_glare(random_view(scene, rng, size), rng, glare_probability)
    return simulate(add_light_sources(view, rng, light_probability), rng)


def scene_probabilities(folders: list[list[Scene]], weights: tuple[float, ...] | None) -> np.ndarray | None:
    """Each scene's chance to be drawn: its folder's share of `weights`, split evenly among the folder's
    scenes (27 renders beside 18 panoramas need not make 60 % of the crops renders). None: uniform."""
    if weights is None:
        return None
    if len(weights) != len(folders):
        raise UsageError(f"--data-weight: {len(weights)} weights for {len(folders)} --data folders (one each, in order)")
    if any(w < 0 for w in weights) or not any(w > 0 and group for w, group in zip(weights, folders)):
        raise UsageError(f"--data-weight must be >= 0 with some folder of training scenes above 0, got {list(weights)}")
    shares = [np.full(len(group), w / len(group)) for w, group in zip(weights, folders) if group]
    probabilities = np.concatenate(shares)
    return probabilities / probabilities.sum()


def make_batch(scenes: list[Scene], rng: np.random.Generator, size: int, count: int,
               light_probability: float = 0.0, glare_probability: float = 0.0,
               probabilities: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    ldr, target = [], []
    for _ in range(count):
        index = rng.integers(len(scenes)) if probabilities is None else rng.choice(len(scenes), p=probabilities)
        pair = training_pair(scenes[index], rng, size, light_probability, glare_probability)
        ldr.append(pair.ldr)
        target.append(pair.target)
    as_tensor = lambda xs: torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    return as_tensor(ldr), as_tensor(target)


class SimulatedBatches(IterableDataset):
    """An endless stream of simulated (ldr, target) batches; each worker draws from its own seed."""

    def __init__(self, scenes: list[Scene], patch: int, batch: int, seed: int, light_probability: float = 0.0,
                 glare_probability: float = 0.0, probabilities: np.ndarray | None = None):
        self.scenes, self.patch, self.batch, self.seed = scenes, patch, batch, seed
        self.light_probability, self.glare_probability = light_probability, glare_probability
        self.probabilities = probabilities

    def __iter__(self):
        worker = get_worker_info()
        if worker is not None:
            cv2.setNumThreads(1)  # workers already run side by side
        rng = np.random.default_rng([self.seed, worker.id if worker else 0])
        while True:
            yield make_batch(self.scenes, rng, self.patch, self.batch, self.light_probability, self.glare_probability,
                             self.probabilities)


def default_workers(device: torch.device) -> int:
    """On CPU the model wants every core; on CUDA simulation is the bottleneck without workers."""
    return 0 if device.type == "cpu" else max(1, min(8, (os.cpu_count() or 2) - 1))


def learning_rate(s: TrainSettings, elapsed_fraction: float) -> float:
    if s.lr_decay == "none":
        return s.lr
    floor = s.lr / 20
    return floor + 0.5 * (s.lr - floor) * (1 + math.cos(math.pi * min(elapsed_fraction, 1.0)))


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """"bf16" or "fp32". bf16 autocast halves a step's time on CUDA and on CPUs with native bf16
    (AVX512-BF16, AMX: 2.2x here); elsewhere the CPU would emulate it, slower than fp32. Losses
    stay in fp32."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision}")
    if precision == "auto":
        native = device.type == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported()
        return "bf16" if native else "fp32"
    return precision


def train(s: TrainSettings, on_step: Callable[[StepReport], None] = lambda r: None) -> Path:
    """Train until the time budget is spent; returns the path of the best checkpoint."""
    device = resolve_device(s.device)
    set_threads(s.threads)
    if not 1 <= s.iterations <= FHDR.max_iterations:
        raise UsageError(f"--iterations must be 1..{FHDR.max_iterations}, got {s.iterations}")
    if s.lr_decay not in ("cosine", "none"):
        raise UsageError(f"--lr-decay must be cosine or none, got {s.lr_decay}")
    if s.select not in ("loss", "flip"):
        raise UsageError(f"--select must be loss or flip, got {s.select}")
    for name in ("overshoot_weight", "log_weight", "light_weight", "region_light_weight"):
        if getattr(s, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(s, name)}")
    for name in ("light_probability", "glare_probability"):
        if not 0 <= getattr(s, name) <= 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(s, name)}")
    precision = resolve_precision(s.precision, device)
    folders = (s.data,) if isinstance(s.data, Path) else tuple(s.data)
    per_folder = [load_scenes(folder) for folder in folders]
    scenes = [scene for group in per_folder for scene in group]
    names = [scene.name for scene in scenes]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise UsageError(f"scene names must be unique across --data folders (held-out scenes go by name): {', '.join(twice)}")
    train_groups = [[scene for scene in group if scene.name not in s.val_scenes] for group in per_folder]
    train_scenes = [scene for group in train_groups for scene in group]
    val_scenes = [scene for scene in scenes if scene.name in s.val_scenes]
    if not train_scenes:
        where = ", ".join(str(f) for f in folders)
        raise UsageError(f"{where}: no .exr/.hdr training scenes (after holding out {len(val_scenes)})")
    probabilities = scene_probabilities(train_groups, s.data_weights)

    summary: dict = {"phases": [], "steps": 0, "seconds": 0.0}
    loss_weights = LossWeights(s.perceptual_weight, s.overshoot_weight, s.log_weight, s.light_weight,
                               s.region_light_weight)
    if s.resume:
        ckpt = load_checkpoint(s.resume)
        if ckpt.model.architecture != "ours":  # its tanh head has no log gain to train
            raise UsageError(f"{s.resume}: the authors' weights run (fhdr convert --weights) but cannot be resumed here")
        if not ckpt.model.gain_calibration.is_identity:
            # trained through a damped head, the network would learn to undo the damping
            raise UsageError(f"{s.resume}: calibrated weights (fhdr info shows the calibration); resume the "
                             "uncalibrated checkpoint and calibrate the result (scripts/calibrate_gain.py)")
        model, summary = ckpt.model, ckpt.training or summary
        step = int(ckpt.extra.get("step", summary["steps"]))
        # validation scores are only comparable at the same iteration count, crops and measure
        same_task = (ckpt.extra.get("best_val_iterations") == s.iterations
                     and ckpt.extra.get("best_val_patch", LEGACY_VAL_PATCH) == s.val_patch
                     and ckpt.extra.get("best_val_measure", "loss") == s.select
                     and ckpt.extra.get("best_val_loss_weights", LEGACY_LOSS) == list(astuple(loss_weights)))
        best_val = float(ckpt.extra.get("best_val", float("inf"))) if same_task else float("inf")
    else:
        torch.manual_seed(s.seed)
        model, step, best_val = FHDR(), 0, float("inf")
    # channels-last: the layout cuDNN and oneDNN run fastest (8 % per step on this CPU too)
    model.to(device, memory_format=torch.channels_last).train()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # training crops all have one shape
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    if s.resume and "optimizer" in ckpt.extra:
        optimizer.load_state_dict(ckpt.extra["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = s.lr

    perceptual = VGGPerceptualLoss(s.vgg_weights).to(device) if s.vgg_weights else ssim_loss
    workers = default_workers(device) if s.workers is None else s.workers
    # a resumed run draws new samples, not a replay
    batches = DataLoader(SimulatedBatches(train_scenes, s.patch, s.batch, s.seed + step, s.light_probability,
                                          s.glare_probability, probabilities), batch_size=None,
                         num_workers=workers, pin_memory=device.type == "cuda",
                         prefetch_factor=4 if workers else None,
                         multiprocessing_context="spawn" if workers else None)  # fork can deadlock in cv2/OpenMP
    val_ldr, val_target = make_batch(val_scenes, np.random.default_rng(1234), s.val_patch, 4 * len(val_scenes)) if val_scenes else (None, None)

    phase = {
        "iterations": s.iterations, "patch": s.patch, "batch": s.batch, "val_patch": s.val_patch, "lr": s.lr, "lr_decay": s.lr_decay,
        "perceptual": "vgg19" if s.vgg_weights else f"ssim x{s.perceptual_weight}",
        "overshoot_weight": s.overshoot_weight, "log_weight": s.log_weight, "light_weight": s.light_weight,
        "region_light_weight": s.region_light_weight,
        "light_probability": s.light_probability, "glare_probability": s.glare_probability, "precision": precision,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "start_step": step, "steps": 0, "seconds": 0.0,
        "train_scenes": [sc.name for sc in train_scenes], "val_scenes": [sc.name for sc in val_scenes],
    }
    if s.data_weights is not None:
        phase["data_weights"] = {str(folder): weight for folder, weight in zip(folders, s.data_weights)}
    summary["phases"].append(phase)
    log_path = s.log or Path(s.out).with_suffix(".csv")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    new_log = not log_path.exists()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def to_device(images: torch.Tensor) -> torch.Tensor:
        return images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def validate(report: StepReport) -> None:
        if val_ldr is None:
            return
        model.eval()
        with torch.no_grad():  # the network in chunks (72 crops of 256 px at once: ~10 GB), the loss on all
            with autocast:
                chunks = [model(to_device(ldr), s.iterations) for ldr in val_ldr.split(4)]
            outs = [torch.cat(iteration) for iteration in zip(*chunks)]
            report.val_loss = float(hdr_loss(outs, to_device(val_target), val_ldr, perceptual, loss_weights))
        report.val_flip = validation_flip(outs[-1], val_target, val_ldr)
        model.train()

    def checkpoint(report: StepReport) -> bool:
        nonlocal best_val
        phase["seconds"] = round(time.monotonic() - start, 1)
        summary["steps"] = step
        summary["seconds"] = round(previous_seconds + phase["seconds"], 1)
        summary["val_loss"], summary["val_flip"] = report.val_loss, report.val_flip
        val = report.val_flip if s.select == "flip" else report.val_loss
        improved = val is not None and val < best_val
        if improved:
            best_val = val
        meta = {"step": step, "best_val": best_val, "best_val_iterations": s.iterations, "best_val_patch": s.val_patch,
                "best_val_measure": s.select,
                "best_val_loss_weights": list(astuple(loss_weights))}
        save_checkpoint(s.out, model, summary, optimizer=optimizer.state_dict(), **meta)
        if improved:
            save_checkpoint(best_path, model, summary, **meta)
        return improved

    best_path = Path(s.out).with_suffix(".best.pt")
    previous_seconds = float(summary.get("seconds", 0.0))
    start = last_save = time.monotonic()
    deadline = start + s.minutes * 60
    with open(log_path, "a", newline="") as log_file:
        log = csv.writer(log_file)
        if new_log:
            log.writerow(["step", "elapsed_s", "iterations", "loss", "val_loss", "val_flip"])
        for ldr, target in batches:  # at least one step, so every run leaves a checkpoint
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(s, (time.monotonic() - start) / max(s.minutes * 60, 1e-6))
            with autocast:
                outputs = model(to_device(ldr), s.iterations)
            loss = hdr_loss(outputs, to_device(target), ldr, perceptual, loss_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            phase["steps"] += 1
            report = StepReport(step=step, loss=loss.item(), elapsed_s=time.monotonic() - start)
            done = time.monotonic() >= deadline
            if done or time.monotonic() - last_save >= s.checkpoint_minutes * 60:
                validate(report)
                report.saved = checkpoint(report)
                last_save = time.monotonic()
            log.writerow([step, f"{report.elapsed_s:.1f}", s.iterations, f"{report.loss:.5f}",
                          "" if report.val_loss is None else f"{report.val_loss:.5f}",
                          "" if report.val_flip is None else f"{report.val_flip:.5f}"])
            log_file.flush()
            on_step(report)
            if done:
                break
    return best_path if best_path.exists() else Path(s.out)

