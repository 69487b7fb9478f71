"""`fhdr batch` throughput against the model alone on the same photos, and how encoding scales.

    python scripts/bench_batch.py --count 8 --width 1600 --height 1000 --iterations 1
    python scripts/bench_batch.py --encode-threads 1,2,4 --count 8 --width 4000 --height 3000

Model only: the converter on photos already decoded in memory. Batch: `run_batch` on the JPEG files,
reading, converting and writing EXRs (decoding and encoding on worker threads). Prints one JSON line
with both throughputs in MP/s and their ratio (the target is >= 0.95 on a CPU, >= 0.9 on a GPU).

--encode-threads: no model; `--count` half-float ZIP EXRs of an HDR result written by pools of
1, 2, 4... threads (as `run_batch`'s writers do), one JSON line per pool size with MP/s.
"""

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fhdr_cli.inference.batch import default_io_threads, plan_batch, run_batch
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.io.hdr_files import write_hdr
from fhdr_cli.io.photo import read_ldr

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, default=8)
parser.add_argument("--width", type=int, default=1600)
parser.add_argument("--height", type=int, default=1000)
parser.add_argument("--iterations", type=int, default=1)
parser.add_argument("--device", default="auto")
parser.add_argument("--half", action="store_true")
parser.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA)")
parser.add_argument("--weights", type=Path, default=None)
parser.add_argument("--io-threads", type=int, default=None, help="batch writers (default: fhdr's choice)")
parser.add_argument("--encode-threads", default=None, help="e.g. 1,2,4: measure encoding alone")
args = parser.parse_args()


def photo(rng: np.random.Generator) -> np.ndarray:
    """A smooth random photo (JPEG-like content, not noise, so compression behaves as on photos)."""
    small = rng.integers(0, 256, (args.height // 40 + 1, args.width // 40 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (args.width, args.height), interpolation=cv2.INTER_CUBIC)


megapixels = args.count * args.width * args.height / 1e6
with tempfile.TemporaryDirectory() as tmp:
    src_dir, out_dir = Path(tmp) / "in", Path(tmp) / "out"
    src_dir.mkdir()
    out_dir.mkdir()
    rng = np.random.default_rng(0)
    if args.encode_threads:
        # an HDR-like result: the sRGB decoding of a photo with highlights above 1
        hdr = (photo(rng).astype(np.float32) / 255) ** 2.2 * np.float32(4.0)
        for threads in (int(t) for t in args.encode_threads.split(",")):
            start, cpu = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda i: write_hdr(out_dir / f"t{threads}_{i}.exr", hdr, overwrite=True), range(args.count)))
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            # cpu / seconds: how many cores were busy at once (2 with 2 threads if OpenEXR leaves the GIL)
            print(json.dumps({"encode_threads": threads, "photos": args.count, "size": [args.width, args.height],
                              "seconds_per_photo": round(seconds / args.count, 3),
                              "encode_mp_per_s": round(megapixels / seconds, 2),
                              "cpu_s_per_photo": round(cpu / args.count, 3), "cores_busy": round(cpu / seconds, 2)}))
        raise SystemExit(0)

    for i in range(args.count):  # JPEG quality 92
        cv2.imwrite(str(src_dir / f"photo_{i:03d}.jpg"), photo(rng), [cv2.IMWRITE_JPEG_QUALITY, 92])
    converter = Converter.load(weights=args.weights, device=args.device, iterations=args.iterations, half=args.half,
                               compile=args.compile)
    jobs = plan_batch(src_dir, out_dir)
    photos = [read_ldr(job.src).rgb for job in jobs]
    converter(photos[0])  # warm-up

    start = time.perf_counter()
    for rgb in photos:
        converter(rgb)
    model_seconds = time.perf_counter() - start
    del photos

    start = time.perf_counter()
    results = list(run_batch(jobs, converter, io_threads=args.io_threads))
    batch_seconds = time.perf_counter() - start
    assert all(r.status == "converted" for r in results), [r.reason for r in results if r.status != "converted"]

print(json.dumps({
    "photos": args.count, "size": [args.width, args.height], "iterations": args.iterations,
    "device": str(converter.device), "half": args.half, "compile": args.compile, "io_threads": args.io_threads or default_io_threads(),
    "model_only_mp_per_s": round(megapixels / model_seconds, 4),
    "batch_mp_per_s": round(megapixels / batch_seconds, 4), "batch_over_model": round(model_seconds / batch_seconds, 3),
}))
