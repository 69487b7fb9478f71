"""Fit a checkpoint's log-gain calibration on scenes it never saw, and write the calibrated checkpoint.

    python scripts/calibrate_gain.py experiments/h100_step13858.pt --hdr data/rendered \
        --scenes render_0002,render_0005,render_0008,render_0011,render_0014,render_0017 --views 3 \
        --well-exposed 0.3,0.5,0.7,0.85,1 --near-clipped 0.85,1,1.15 --detail-sigma 0,2 --jobs 2 --out runs/calibrated.pt

The network predicts a log gain over the sRGB-decoded photo; `GainCalibration` (network/fhdr.py)
scales it by `well_exposed` in well-exposed pixels and by `near_clipped` near clipping, and with
`detail_sigma` > 0 keeps only the detail of the well-exposed log gain. Each point of the grid is
scored on the same simulated photos of the --hdr scenes as `fhdr evaluate` would make them (the
network runs once per photo; the calibrations are applied to its log gain). The rule, fixed before
any run: the calibration with the best mean rank over PSNR-mu, SSIM-mu, clipped PSNR-mu, HDR-FLIP
and light error (ties: the lower HDR-FLIP). The scenes are recorded as a phase of the result, so
`fhdr evaluate` skips them later: calibrate on scenes kept out of the evaluation you will report.
"""

import argparse
import itertools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from fhdr_cli.colour.transfer import srgb_to_linear
from fhdr_cli.evaluation.evaluate import evaluation_views, finite_mean, trained_scene_names
from fhdr_cli.evaluation.metrics import evaluate_pair
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.network.checkpoint import save_checkpoint
from fhdr_cli.network.fhdr import GainCalibration, hdr_from_log_gain
from fhdr_cli.simulation.scenes import scene_files

# (metric, True where higher is better): the metrics of the shipping rule (weights/MODEL_CARD.md)
RANKED = (("psnr_mu", True), ("ssim_mu", True), ("psnr_mu_clipped", True), ("hdr_flip", False),
          ("light_error", False))


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def score_view(view: dict, calibrations: list[GainCalibration]) -> list[dict[str, float]]:
    """Every calibration's metrics on one photo, from the network's uncalibrated log gain."""
    torch.set_num_threads(1)  # one process per core
    ldr = torch.from_numpy(view["ldr"]).permute(2, 0, 1)[None]
    log_gain = torch.from_numpy(view["log_gain"]).permute(2, 0, 1)[None]
    scores = []
    for calibration in calibrations:
        hdr = hdr_from_log_gain(ldr, log_gain, calibration)  # the network's own head
        scores.append(evaluate_pair(hdr[0].permute(1, 2, 0).numpy(), view["target"], view["ldr"], view["clip"]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--hdr", type=Path, required=True, help="calibration scenes (never trained on)")
    parser.add_argument("--scenes", help="comma-separated scene names in --hdr (default: all)")
    parser.add_argument("--well-exposed", type=floats, default=floats("0.3,0.5,0.7,0.85,1"))
    parser.add_argument("--near-clipped", type=floats, default=floats("0.85,1,1.15"))
    parser.add_argument("--detail-sigma", type=floats, default=floats("0"),
                        help="px; 0: the whole well-exposed log gain, else only its detail")
    parser.add_argument("--knees", type=floats, default=floats("0.85,0.99"), help="knee_low,knee_high")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=1, help="processes scoring the photos")
    parser.add_argument("--report", type=Path, help="every calibration's mean metrics, overall and per camera curve, as JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    converter = Converter.load(weights=args.weights, device="cpu", iterations=args.iterations)
    model = converter.model
    if not model.gain_calibration.is_identity:
        parser.error(f"{args.weights} is calibrated already: calibrate the uncalibrated checkpoint")
    available = {p.stem for p in scene_files(args.hdr)}
    scenes = set(args.scenes.split(",")) if args.scenes else available
    if missing := scenes - available:
        parser.error(f"no such scenes in {args.hdr}: {', '.join(sorted(missing))}")
    if seen := trained_scene_names(converter.training) & scenes:
        parser.error(f"the checkpoint was trained on {', '.join(sorted(seen))}: calibrate on unseen scenes")

    views = []
    for scene, pair in evaluation_views(args.hdr, available - scenes, args.views, args.size, seed=0):
        hdr = converter(pair.ldr)
        base = srgb_to_linear(torch.from_numpy(pair.ldr)).numpy()
        log_gain = np.where(base > 0, np.log(np.maximum(hdr, 1e-30) / np.maximum(base, 1e-30)), 0.0)
        views.append({"scene": scene, "ldr": pair.ldr, "target": pair.target, "clip": pair.clip_level,
                      "curve": pair.curve, "log_gain": log_gain.astype(np.float32)})
        print(f"network: {len(views)} photos", end="\r", flush=True)
    print()

    knee_low, knee_high = args.knees
    calibrations = [GainCalibration(w, c, knee_low, knee_high, sigma)
                    for sigma, w, c in itertools.product(args.detail_sigma, args.well_exposed, args.near_clipped)]
    # spawn: a forked child of a process whose OpenMP threads ran can deadlock
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        per_view = list(pool.map(score_view, views, itertools.repeat(calibrations)))

    def mean_scores(i: int, curve: str | None = None) -> dict[str, float]:
        chosen = [scores[i] for scores, view in zip(per_view, views) if curve in (None, view["curve"])]
        return {metric: finite_mean([s[metric] for s in chosen]) for metric in per_view[0][0]}

    means = [mean_scores(i) for i in range(len(calibrations))]
    ranks = np.zeros(len(calibrations))
    for metric, higher_is_better in RANKED:
        values = np.array([m[metric] for m in means]) * (-1 if higher_is_better else 1)
        ranks += values.argsort().argsort()
    best = min(range(len(calibrations)), key=lambda i: (ranks[i], means[i]["hdr_flip"]))

    print("| detail sigma | well-exposed | near-clipped | PSNR-mu | SSIM-mu | clipped PSNR-mu | HDR-FLIP | light error | mean rank |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, (calibration, m) in enumerate(zip(calibrations, means)):
        mark = " **chosen**" if i == best else ""
        print(f"| {calibration.detail_sigma:g} | {calibration.well_exposed:g} | {calibration.near_clipped:g} | {m['psnr_mu']:.2f} | "
              f"{m['ssim_mu']:.4f} | {m['psnr_mu_clipped']:.2f} | {m['hdr_flip']:.4f} | {m['light_error']:.2f} | "
              f"{ranks[i] / len(RANKED) + 1:.1f}{mark} |")
    if args.report:
        # per camera curve too: the mid-tone correction helps some curves and hurts sRGB photos (model card)
        curves = sorted({view["curve"] for view in views})
        args.report.write_text(json.dumps([{**c.as_dict(), **m, "by_curve": {k: mean_scores(i, k) for k in curves}}
                                           for i, (c, m) in enumerate(zip(calibrations, means))], indent=1))

    chosen = calibrations[best]
    model.gain_calibration = chosen
    phase = {
        "calibration": f"log gain x{chosen.well_exposed:g} well exposed (detail sigma {chosen.detail_sigma:g} px), "
                       f"x{chosen.near_clipped:g} near clipping (best mean rank of {len(calibrations)} on {len(views)} photos)",
        "gain_calibration": chosen.as_dict(), "train_scenes": sorted(scenes), "steps": 0, "seconds": 0.0,
    }
    training = converter.training
    save_checkpoint(args.out, model, {**training, "phases": [*training.get("phases", []), phase]})
    print(f"{chosen} -> {args.out}")


if __name__ == "__main__":
    main()
