"""How well `--wrap` joins a 360-degree panorama's sides, on held-out equirectangular scenes.

    python scripts/measure_seam.py --hdr ../shared/hdr-train --captures 4

Each held-out 2:1 panorama is "photographed" whole (fhdr_cli.simulation.simulate, as in `fhdr evaluate`)
and converted with and without --wrap. Prints one JSON line per setting: PSNR-mu over the 16
columns on each side of the seam, the seam step (mean |mu(first column) - mu(last column)|) and,
for scale, the mean step between neighbouring columns inside the image; the same for the truth.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from fhdr_cli.colour.transfer import mu_law
from fhdr_cli.evaluation.evaluate import trained_scene_names
from fhdr_cli.evaluation.metrics import align_exposure, psnr_mu
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.simulation.scenes import load_scenes
from fhdr_cli.simulation.simulate import simulate

SEAM_COLUMNS = 16

parser = argparse.ArgumentParser()
parser.add_argument("--hdr", type=Path, required=True)
parser.add_argument("--captures", type=int, default=4, help="simulated photos per panorama")
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--weights", type=Path, default=None)
args = parser.parse_args()

converters = {wrap: Converter.load(weights=args.weights, device="cpu", iterations=args.iterations, wrap=wrap)
              for wrap in (False, True)}
trained = trained_scene_names(converters[False].training)
panoramas = [s for s in load_scenes(args.hdr, exclude=trained) if s.kind == "panorama"]


def column_steps(image: np.ndarray, peak: float) -> dict[str, float]:
    """Mean mu-law difference across the seam and between neighbouring columns elsewhere."""
    mu = mu_law(torch.from_numpy(image.astype(np.float64)) / peak).numpy()
    return {"seam_step": float(np.abs(mu[:, 0] - mu[:, -1]).mean()),
            "column_step": float(np.abs(np.diff(mu, axis=1)).mean())}


scores = {name: {} for name in ("truth", "without --wrap", "with --wrap")}
for scene in panoramas:
    rng = np.random.default_rng(0)
    for _ in range(args.captures):
        pair = simulate(scene.image, rng)
        peak = float(pair.target.max())
        width = pair.target.shape[1]
        near_seam = np.zeros(pair.target.shape[:2], bool)
        near_seam[:, :SEAM_COLUMNS] = near_seam[:, width - SEAM_COLUMNS :] = True
        results = {"truth": column_steps(pair.target, peak)}
        for wrap, converter in converters.items():
            pred = align_exposure(converter(pair.ldr), pair.target, pair.ldr)
            results["with --wrap" if wrap else "without --wrap"] = {
                "psnr_mu_seam": psnr_mu(pred, pair.target, near_seam), **column_steps(pred, peak)}
        for name, values in results.items():
            for key, value in values.items():
                scores[name].setdefault(key, []).append(value)

print(json.dumps({"panoramas": [s.name for s in panoramas], "captures": args.captures, "iterations": args.iterations}))
for name, values in scores.items():
    print(json.dumps({"method": name, **{k: round(float(np.mean(v)), 4) for k, v in values.items()}}))
