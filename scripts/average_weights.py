"""Average the weights of checkpoints fine-tuned from one parent (a "model soup" / WiSE-FT).

    python scripts/average_weights.py experiments/h100_step13858.pt:0.5 experiments/h200_lights_B.pt:0.5 \
        --out runs/soup/B0.5_raw.pt

Checkpoints that share a parent lie in one basin of the loss, so a weighted mean of their weights
trades their strengths smoothly (here: the parent's fit against a fine-tune's light); calibrate the
result with scripts/calibrate_gain.py. Its training record lists every phase of every input, so
`fhdr evaluate` skips every scene any of them saw.
"""

import argparse
from pathlib import Path

from fhdr_cli.network.checkpoint import load_checkpoint, save_checkpoint

parser = argparse.ArgumentParser()
parser.add_argument("inputs", nargs="+", help="CHECKPOINT:WEIGHT; the weights are normalised to sum to 1")
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

paths, shares = [], []
for item in args.inputs:
    path, _, share = item.rpartition(":")
    if not path:
        parser.error(f"{item}: expected CHECKPOINT:WEIGHT")
    paths.append(Path(path))
    shares.append(float(share))
if sum(shares) <= 0:
    parser.error("the weights must sum to more than 0")
shares = [s / sum(shares) for s in shares]

checkpoints = [load_checkpoint(p) for p in paths]
if any(not c.model.gain_calibration.is_identity for c in checkpoints):
    parser.error("average uncalibrated checkpoints, then calibrate the result")
configs = {repr(c.model.cfg.as_dict()) for c in checkpoints}
if len(configs) != 1:
    parser.error("the checkpoints have different architectures: " + "; ".join(sorted(configs)))
states = [c.model.state_dict() for c in checkpoints]
model = checkpoints[0].model
model.load_state_dict({key: sum(share * state[key].float() for share, state in zip(shares, states))
                       for key in states[0]})

phases = []
for checkpoint in checkpoints:
    phases += [phase for phase in checkpoint.training.get("phases", []) if phase not in phases]
phases.append({"name": "weight average", "inputs": [f"{p} ({c.sha256[:12]})" for p, c in zip(paths, checkpoints)],
               "shares": [round(s, 4) for s in shares]})
save_checkpoint(args.out, model, {**checkpoints[0].training, "phases": phases})
print(f"{args.out}: {' + '.join(f'{s:.2f} x {p}' for s, p in zip(shares, paths))}")
