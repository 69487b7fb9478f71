"""CUDA against the CPU on one photo: fp32 (exact IEEE convolutions, fhdr's default), fp32 with
cuDNN's TF32, and fp16 autocast (--half). Prints one JSON line per variant: seconds per conversion,
max |difference| and the 99.9th percentile of the relative difference to the CPU's result.

    python scripts/cuda_precision.py --size 4000x3000 --iterations 4
"""

import argparse
import json
import time

import cv2
import numpy as np
import torch

from fhdr_cli.inference.device import synchronize
from fhdr_cli.inference.pipeline import Converter

parser = argparse.ArgumentParser()
parser.add_argument("--photo", default="examples/venice_sunset.jpg")
parser.add_argument("--size", default="2000x1500", help="WIDTHxHEIGHT the photo is resized to")
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--repeat", type=int, default=3)
args = parser.parse_args()

width, height = (int(v) for v in args.size.split("x"))
rgb = cv2.cvtColor(cv2.resize(cv2.imread(args.photo), (width, height), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
reference = Converter.load(device="cpu", iterations=args.iterations)(rgb)
for name, half, precision in (("fp32", False, "ieee"), ("fp32-tf32", False, "tf32"), ("fp16", True, "ieee")):
    converter = Converter.load(device="cuda", iterations=args.iterations, half=half)
    torch.backends.cudnn.conv.fp32_precision = precision  # after load, which sets "ieee"
    result = converter(rgb)  # warm-up (cuDNN autotuning)
    synchronize(converter.device)
    start = time.perf_counter()
    for _ in range(args.repeat):
        result = converter(rgb)
    seconds = (time.perf_counter() - start) / args.repeat
    relative = np.abs(result - reference) / np.maximum(np.abs(reference), 1e-3)
    print(json.dumps({"variant": name, "size": [width, height], "iterations": args.iterations,
                      "seconds": round(seconds, 3), "max_abs_diff": float(np.abs(result - reference).max()),
                      "rel_diff_p99_9": float(np.percentile(relative, 99.9))}), flush=True)
