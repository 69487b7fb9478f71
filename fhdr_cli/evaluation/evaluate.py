"""Held-out evaluation: the model at 1–4 iterations against classic expansion operators.

Inputs are simulated from ground-truth HDR scenes exactly as in training, with a
fixed seed per scene, so every run and every method sees the same photos.
Scenes the weights were trained on are skipped: their numbers would flatter.
Panoramas and cube strips give perspective views of `size` pixels; flat scenes
(HDR photographs, renders) are evaluated whole, at their own resolution.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .baselines import BASELINES
from ..errors import UsageError
from .metrics import SHADOW_BANDS, evaluate_pair
from ..inference.pipeline import Converter
from ..simulation.scenes import load_scenes, random_view, scene_files
from ..simulation.simulate import simulate

METRICS = ("psnr_mu", "ssim_mu", "psnr_mu_clipped", "hdr_flip", "light_error", "light_bias",
           "light_error_sources", *SHADOW_BANDS)


@dataclass
class EvalReport:
    scenes: list[str]
    skipped_trained: list[str]
    views_per_scene: int
    size: int
    seed: int
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> metric -> mean
    per_scene: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # scene -> method -> metric -> mean
    # method -> camera curve -> shadow band -> mean bias in stops (the lift depends on the curve)
    shadows_by_curve: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "scenes": self.scenes, "skipped_trained": self.skipped_trained,
            "views_per_scene": self.views_per_scene, "size": self.size, "seed": self.seed,
            "results": self.rows, "per_scene": self.per_scene, "shadows_by_curve": self.shadows_by_curve,
        }


def trained_scene_names(training: dict) -> set[str]:
    """Every scene any training phase of a checkpoint saw."""
    return {name for phase in training.get("phases", []) for name in phase.get("train_scenes", [])}


def evaluation_views(hdr_dir: Path, exclude: set[str], views_per_scene: int, size: int, seed: int):
    """(scene name, simulated pair) for each fixed view; the same for every method and run.
    A flat scene is a photograph: each view is the whole of it, exposed and encoded anew."""
    for scene in load_scenes(hdr_dir, exclude=exclude):
        rng = np.random.default_rng([seed, zlib.crc32(scene.name.encode())])
        for _ in range(views_per_scene):
            view = scene.image if scene.kind == "flat" else random_view(scene, rng, size)
            yield scene.name, simulate(view, rng)


def method_name(iterations: int, highlights: float = 1.0) -> str:
    """The report's name for the network at these settings: "fhdr n=4", "fhdr n=4 highlights x2"."""
    return f"fhdr n={iterations}" + ("" if highlights == 1.0 else f" highlights x{highlights:g}")


def evaluate(hdr_dir: Path, *, weights: Path | None = None, iterations: tuple[int, ...] = (1, 2, 3, 4),
             views_per_scene: int = 16, size: int = 256, seed: int = 0, device: str = "auto",
             threads: int | None = None, on_view: Callable[[int, int], None] | None = None,
             baselines: bool = True, highlights: tuple[float, ...] = (1.0,)) -> EvalReport:
    """Mean metrics per method over held-out views of the scenes in `hdr_dir`; `baselines=False`
    scores the model only (a caller comparing several checkpoints needs the baselines once). Each
    iteration count runs at each `highlights` factor (`fhdr convert --highlights`)."""
    converters = {method_name(n, h): Converter.load(weights=weights, device=device, iterations=n, threads=threads,
                                                    highlights=h)
                  for n in iterations for h in highlights}
    training = next(iter(converters.values())).training if converters else {}
    trained = trained_scene_names(training) & {p.stem for p in scene_files(hdr_dir)}
    views = list(evaluation_views(hdr_dir, trained, views_per_scene, size, seed))
    if not views:
        raise UsageError(f"{hdr_dir}: no held-out .exr/.hdr scenes to evaluate (skipped {len(trained)} trained-on)")

    methods: dict[str, Callable[[np.ndarray], np.ndarray]] = dict(converters)
    if baselines:
        methods.update(BASELINES)
    scene_names = sorted({scene for scene, _ in views})
    # scene -> method -> metric -> one value per view
    scores = {scene: {m: {k: [] for k in METRICS} for m in methods} for scene in scene_names}
    curves = sorted({pair.curve for _, pair in views})
    shadows = {m: {c: {band: [] for band in SHADOW_BANDS} for c in curves} for m in methods}
    for index, (scene, pair) in enumerate(views, 1):
        for name, method in methods.items():
            for metric, value in evaluate_pair(method(pair.ldr), pair.target, pair.ldr, pair.clip_level).items():
                scores[scene][name][metric].append(value)
                if metric in SHADOW_BANDS:
                    shadows[name][pair.curve][metric].append(value)
        if on_view:
            on_view(index, len(views))

    report = EvalReport(
        scenes=scene_names, skipped_trained=sorted(trained), views_per_scene=views_per_scene, size=size, seed=seed,
    )
    for name in methods:
        report.rows[name] = {k: finite_mean([v for s in scene_names for v in scores[s][name][k]]) for k in METRICS}
    report.shadows_by_curve = {
        name: {curve: {band: finite_mean(values) for band, values in bands.items()} for curve, bands in per_curve.items()}
        for name, per_curve in shadows.items()
    }
    report.per_scene = {
        scene: {name: {k: finite_mean(values) for k, values in per_metric.items()} for name, per_metric in per_method.items()}
        for scene, per_method in scores.items()
    }
    return report


def finite_mean(values: list[float]) -> float:
    """Mean over views where the metric is defined (no clipped pixels -> nan; identical -> inf)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
