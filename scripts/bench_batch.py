"""`fhdr batch` throughput against the model alone on the same photos.

    python scripts/bench_batch.py --count 8 --width 1600 --height 1000 --iterations 1

Model only: the converter on photos already decoded in memory. Batch: `run_batch` on the JPEG files,
reading, converting and writing EXRs (decoding and encoding on worker threads). Prints one JSON line
with both throughputs in MP/s and their ratio (the target is >= 0.9).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fhdr_cli.inference.batch import plan_batch, run_batch
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.io.photo import read_ldr

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, default=8)
parser.add_argument("--width", type=int, default=1600)
parser.add_argument("--height", type=int, default=1000)
parser.add_argument("--iterations", type=int, default=1)
parser.add_argument("--device", default="auto")
parser.add_argument("--weights", type=Path, default=None)
args = parser.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    src_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
    src_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(args.count):  # smooth random photos with clipped spots, JPEG quality 92
        small = rng.integers(0, 256, (args.height // 40 + 1, args.width // 40 + 1, 3), dtype=np.uint8)
        photo = cv2.resize(small, (args.width, args.height), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(src_dir / f"photo_{i:03d}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    converter = Converter.load(weights=args.weights, device=args.device, iterations=args.iterations)
    jobs = plan_batch(src_dir, out_dir)
    photos = [read_ldr(job.src).rgb for job in jobs]
    converter(photos[0])  # warm-up

    start = time.perf_counter()
    for photo in photos:
        converter(photo)
    model_seconds = time.perf_counter() - start
    del photos

    start = time.perf_counter()
    results = list(run_batch(jobs, converter))
    batch_seconds = time.perf_counter() - start
    assert all(r.status == "converted" for r in results), [r.reason for r in results if r.status != "converted"]

megapixels = args.count * args.width * args.height / 1e6
print(json.dumps({
    "photos": args.count, "size": [args.width, args.height], "iterations": args.iterations,
    "device": str(converter.device), "model_only_mp_per_s": round(megapixels / model_seconds, 4),
    "batch_mp_per_s": round(megapixels / batch_seconds, 4), "batch_over_model": round(model_seconds / batch_seconds, 3),
}))
