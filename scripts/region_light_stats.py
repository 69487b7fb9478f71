"""How much light the clipped regions of simulated photos hold, by region size, per folder of HDR scenes.

    python scripts/region_light_stats.py data/hdr-photos data/blender-studiolights ../shared/hdr-train
    python scripts/region_light_stats.py ../shared/hdr-train --training 0.12 --size 192

For each connected region of input-clipped pixels (8-connected, >= 4 px; the evaluation's light
term) it takes the true mean luminance over the clip level, in stops, and prints quantiles by the
region's share of the photo. Photos are simulated as `fhdr evaluate` does (same seed, same views);
`--training P` draws training crops instead, with synthetic light sources on a share P of them and
lens glare on half (`fhdr train --light-probability P --glare-probability 0.5`). Comparing a test set
with the training mix shows whether the data teaches the light that test photos hold.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from fhdr_cli.colour.transfer import luminance
from fhdr_cli.evaluation.evaluate import evaluation_views
from fhdr_cli.evaluation.metrics import MIN_LIGHT_PIXELS, clipped_regions
from fhdr_cli.simulation.scenes import load_scenes
from fhdr_cli.simulation.simulate import SimulatedPair
from fhdr_cli.training.train import training_pair

SHARES = [(0.0, 1e-4), (1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1.0)]


def training_pairs(folder: Path, views: int, size: int, light_probability: float):
    scenes = load_scenes(folder)
    rng = np.random.default_rng(0)
    for _ in range(views * len(scenes)):
        yield training_pair(scenes[rng.integers(len(scenes))], rng, size, light_probability, glare_probability=0.5)


def regions(pair: SimulatedPair) -> list[tuple[float, float]]:
    """(share of the photo, log2 of the true mean luminance over the clip level) per clipped region."""
    labels = clipped_regions(pair.ldr)
    true_luminance = luminance(torch.from_numpy(pair.target), channel_dim=-1).numpy() / pair.clip_level
    found = []
    for label in range(1, int(labels.max()) + 1):
        inside = labels == label
        area = int(inside.sum())
        if area >= MIN_LIGHT_PIXELS:
            found.append((area / inside.size, float(np.log2(true_luminance[inside].mean()))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--views", type=int, default=4, help="views per scene (flat scenes: exposures)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--training", type=float, metavar="P", default=None,
                        help="training crops with synthetic lights on a share P instead of evaluation views")
    args = parser.parse_args()
    print("| folder | region share of the photo | regions | stops over the clip level: p10 / median / p90 |")
    print("|---|---|---|---|")
    for folder in args.folders:
        if args.training is None:
            pairs = (pair for _, pair in evaluation_views(folder, set(), args.views, args.size, seed=0))
        else:
            pairs = training_pairs(folder, args.views, args.size, args.training)
        found = np.array([region for pair in pairs for region in regions(pair)]).reshape(-1, 2)
        for low, high in SHARES:
            stops = found[(found[:, 0] >= low) & (found[:, 0] < high), 1]
            if stops.size:
                p10, p50, p90 = np.quantile(stops, [0.1, 0.5, 0.9])
                print(f"| {folder} | {low:g}-{high:g} | {stops.size} | {p10:+.2f} / {p50:+.2f} / {p90:+.2f} |")


if __name__ == "__main__":
    main()
