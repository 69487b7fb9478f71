"""Peak resident memory of one end-to-end conversion (read JPEG -> model -> write EXR, or an Ultra HDR
JPEG with --format jpg).

    python scripts/bench_memory.py --width 6000 --height 4000 --iterations 4

Prints one JSON line: image size, tile, tiling overhead, seconds and VmHWM (peak RSS) in MiB.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from fhdr_cli.inference.device import peak_memory_mib
from fhdr_cli.inference.pipeline import Converter, convert_file
from fhdr_cli.inference.tile import computed_pixels

parser = argparse.ArgumentParser()
parser.add_argument("--width", type=int, default=6000)
parser.add_argument("--height", type=int, default=4000)
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--weights", type=Path, default=None)
parser.add_argument("--format", choices=("exr", "jpg"), default="exr")
args = parser.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    src, dst = Path(tmp) / "photo.jpg", Path(tmp) / f"out.{args.format}"
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (args.height // 50 + 1, args.width // 50 + 1, 3), dtype=np.uint8)
    photo = cv2.resize(small, (args.width, args.height), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(src), photo)
    del small, photo
    converter = Converter.load(weights=args.weights, device="cpu", iterations=args.iterations)
    tile = converter.tile_size(args.height, args.width)
    start = time.perf_counter()
    convert_file(src, dst, converter)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "size": f"{args.width}x{args.height}", "iterations": args.iterations, "tile": tile,
        "tiling_overhead": round(computed_pixels(args.height, args.width, tile, converter.radius) / (args.width * args.height), 3),
        "seconds": round(seconds, 1), "peak_rss_mib": round(peak_memory_mib(torch.device("cpu"))), f"{args.format}_mib": round(dst.stat().st_size / 2**20, 1),
    }))
