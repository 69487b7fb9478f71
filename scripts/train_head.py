"""Retrain the reconstruction block (hrb1, hrb2) alone, on cached backbone features: phase 6 of the
shipped weights (session 14; weights/MODEL_CARD.md, "Shipped in session 15"), reproduced by

    python scripts/train_head.py experiments/shipped_s9.pt --cache runs/head/cache --crops 768 \
        --light-weight 0.2 --epochs 2,4,8 --out runs/head/w0.2.pt

The backbone stays frozen, so its features (the head's input after 4 iterations) are computed once,
for simulated 128-px crops of the training scenes of `scripts/gpu_train.sh` (its data less the
validation scenes and the held-out renders), with synthetic light sources on 25 % of them and lens
glare on 50 %, and cached in chunks of 64 crops (about 160 MB a chunk; 35 minutes for 768 crops on 2
threads here). Another run with the same --cache reuses them. The loss is the last iteration's,
through the start checkpoint's calibration: mu-law L1 + 0.1 (1 - SSIM) + the log term + --light-weight
x the light of each clipped region (`region_light_error`). Writes OUT_eN.pt after epoch N of
--epochs, and OUT.json with the loss per epoch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from fhdr_cli.evaluation.metrics import clipped_regions
from fhdr_cli.network.checkpoint import load_checkpoint, save_checkpoint
from fhdr_cli.network.fhdr import FHDR
from fhdr_cli.simulation.scenes import VALIDATION_SCENES, load_scenes
from fhdr_cli.training.train import LossWeights, hdr_loss, region_light_error, ssim_loss, training_pair

DATA = ("../shared/hdr-train", "data/rendered", "data/registry-hdr")
# held out by scripts/gpu_train.sh (HELD_OUT_RENDERS): every third render
HELD_OUT_RENDERS = {f"render_{i:04d}" for i in range(2, 39, 3)}
CHUNK, CROP, ITERATIONS, BATCH = 64, 128, 4, 16
LOSS = LossWeights(perceptual=0.1, log=1.0)  # `fhdr train`'s loss, SSIM as the perceptual term; the light term is per region here


def cache_features(model: FHDR, cache: Path, crops: int) -> None:
    """Chunks of simulated crops with their clipped regions and the frozen backbone's features."""
    scenes = [s for folder in DATA for s in load_scenes(Path(folder), exclude=set(VALIDATION_SCENES) | HELD_OUT_RENDERS)]
    cache.mkdir(parents=True, exist_ok=True)
    for chunk in range(-(-crops // CHUNK)):
        path = cache / f"chunk_{chunk:03d}.pt"
        if path.exists():
            continue
        rng = np.random.default_rng([1414, chunk])
        ldrs, targets, regions, names = [], [], [], []
        for _ in range(CHUNK):
            scene = scenes[rng.integers(len(scenes))]
            pair = training_pair(scene, rng, CROP, light_probability=0.25, glare_probability=0.5)
            regions.append(clipped_regions(pair.ldr))
            ldrs.append(pair.ldr), targets.append(pair.target), names.append(scene.name)
        as_batch = lambda images: torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        ldr = as_batch(ldrs)
        started = time.time()
        with torch.no_grad():
            features = torch.cat([next(model.head_inputs(part, ITERATIONS)).half() for part in ldr.split(8)])
        torch.save({"ldr": ldr.half(), "target": as_batch(targets), "features": features,
                    "regions": torch.from_numpy(np.stack(regions).astype(np.int16)), "scenes": names},
                   f"{path}.tmp")
        os.replace(f"{path}.tmp", path)  # an interrupted run resumes at the next chunk
        print(f"cached chunk {chunk} ({time.time() - started:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start", type=Path, help="a calibrated checkpoint: its backbone, head and calibration")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--crops", type=int, default=768)
    parser.add_argument("--light-weight", type=float, default=0.2)
    parser.add_argument("--epochs", default="2,4,8", help="epochs after which to save")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    saves = sorted(int(e) for e in args.epochs.split(","))
    torch.set_num_threads(args.threads)
    torch.manual_seed(14)  # before loading: building the network draws from the generator too

    start = load_checkpoint(args.start)
    model, calibration = start.model.eval(), start.model.gain_calibration
    cache_features(model, args.cache, args.crops)
    chunks = [torch.load(path) for path in sorted(args.cache.glob("chunk_*.pt"))][: -(-args.crops // CHUNK)]
    data = {key: torch.cat([chunk[key] for chunk in chunks]) for key in ("ldr", "target", "features", "regions")}
    scenes = [name for chunk in chunks for name in chunk["scenes"]]

    head = [*model.hrb1.parameters(), *model.hrb2.parameters()]
    optimizer = torch.optim.Adam(head, lr=args.lr)
    log, step = [], 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, saves[-1] + 1):
        started, losses = time.time(), []
        order = torch.randperm(len(scenes))
        for first in range(0, len(scenes) - BATCH + 1, BATCH):
            batch = order[first:first + BATCH]
            ldr, target = data["ldr"][batch].float(), data["target"][batch]
            out = model.reconstruct(ldr, data["features"][batch].float(), calibration)
            light = region_light_error(out, target, data["regions"][batch])
            loss = hdr_loss([out], target, ldr, ssim_loss, LOSS) + args.light_weight * light
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            losses.append((loss.item(), light.item()))
        mean_loss, mean_light = np.mean(losses, axis=0)
        log.append({"epoch": epoch, "steps": step, "loss": round(float(mean_loss), 5),
                    "region_light": round(float(mean_light), 4), "seconds": round(time.time() - started, 1)})
        print(log[-1], flush=True)
        if epoch in saves:
            training = copy.deepcopy(start.training)
            training.setdefault("phases", []).append({
                "head": f"hrb1 and hrb2 retrained on cached backbone features of {len(scenes)} crops of {CROP} px, "
                        f"region light term x{args.light_weight:g} (scripts/train_head.py)",
                "epochs": epoch, "steps": step, "batch": BATCH, "lr": args.lr, "crops": len(scenes),
                "train_scenes": sorted(set(scenes)), "val_scenes": list(VALIDATION_SCENES)})
            save_checkpoint(args.out.with_name(f"{args.out.stem}_e{epoch}.pt"), model, training)
    args.out.with_suffix(".json").write_text(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
