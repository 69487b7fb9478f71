"""Shrink a checkpoint's recovered highlights by a factor fitted on scenes it never saw.

    python scripts/calibrate_gain.py experiments/h100_step13858.pt --hdr data/blender-studiolights \
        --scales 1,0.85,0.7,0.55 --out runs/calibrated.pt

The network predicts a log gain over the sRGB-decoded photo; `FHDR.scale_log_gain(s)` multiplies it
by s (the gain g becomes g**s). Each scale is scored
with `fhdr evaluate` on the --hdr scenes at --iterations, and the one with the lowest HDR-FLIP is
written to --out. The scenes must be held out from the checkpoint's training and from the scenes the
result will be evaluated on: they are recorded as a phase of the checkpoint, so `fhdr evaluate`
skips them later.
"""

import argparse
import copy
import json
import tempfile
from pathlib import Path

from fhdr_cli.network.checkpoint import load_checkpoint, save_checkpoint
from fhdr_cli.evaluation.evaluate import evaluate, trained_scene_names
from fhdr_cli.simulation.scenes import scene_files

parser = argparse.ArgumentParser()
parser.add_argument("weights", type=Path)
parser.add_argument("--hdr", type=Path, required=True, help="calibration scenes (never trained on)")
parser.add_argument("--scales", default="1,0.85,0.7,0.55")
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--views", type=int, default=4)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

ckpt = load_checkpoint(args.weights)
scenes = sorted(p.stem for p in scene_files(args.hdr))
if seen := trained_scene_names(ckpt.training) & set(scenes):
    parser.error(f"the checkpoint was trained on {', '.join(sorted(seen))}: calibrate on unseen scenes")
original = copy.deepcopy(ckpt.model.state_dict())


def scaled(scale: float) -> None:
    ckpt.model.load_state_dict(original)
    ckpt.model.scale_log_gain(scale)


scores = {}
with tempfile.TemporaryDirectory() as tmp:
    for index, scale in enumerate(float(s) for s in args.scales.split(",")):
        scaled(scale)
        path = Path(tmp) / f"scale{scale}.pt"
        save_checkpoint(path, ckpt.model, ckpt.training)
        # the baselines do not depend on the scale: scored with the first one only
        report = evaluate(args.hdr, weights=path, iterations=(args.iterations,), views_per_scene=args.views,
                          baselines=index == 0)
        scores[scale] = report.rows[f"fhdr n={args.iterations}"]
        if index == 0:
            print(json.dumps({"srgb_decode": {k: round(v, 4) for k, v in report.rows["srgb-decode"].items()}}))
        print(json.dumps({"scale": scale, **{k: round(v, 4) for k, v in scores[scale].items()}}), flush=True)

best = min(scores, key=lambda s: scores[s]["hdr_flip"])
scaled(best)
calibration = {
    "calibration": f"log gain x{best} (lowest HDR-FLIP at {args.iterations} iterations of {args.scales})",
    "log_gain_scale": best, "train_scenes": scenes, "steps": 0, "seconds": 0.0,
}
training = {**ckpt.training, "phases": [*ckpt.training.get("phases", []), calibration]}
save_checkpoint(args.out, ckpt.model, training)
print(f"scale {best} -> {args.out}")
