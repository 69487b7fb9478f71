"""Does `torch.compile` pay on the plain nn.Module? Eager vs compiled, same input, one process.

    python scripts/bench_compile.py --device cpu --size 512 --iterations 4
    python scripts/bench_compile.py --device cuda --size 4000x3000 --iterations 4 --half

Prints one JSON line: compile time (first compiled call minus an eager one), best-of-N seconds for
eager and compiled, and their largest difference. Compare with `fhdr benchmark`, whose CPU figures
come from the fused oneDNN engine; on a GPU `fhdr benchmark` at the same size and `--compile` minus
this script's compiled time is the host's share (upload, copies back) of the end-to-end time.
"""

import argparse
import json
import time

import torch

from fhdr_cli.network.checkpoint import load_checkpoint
from fhdr_cli.inference.device import resolve_device, synchronize

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="auto")
parser.add_argument("--size", default="512", help="WIDTHxHEIGHT, or one number for a square")
parser.add_argument("--iterations", type=int, default=4)
parser.add_argument("--half", action="store_true", help="fp16 autocast (CUDA)")
parser.add_argument("--repeat", type=int, default=3)
args = parser.parse_args()

device = resolve_device(args.device)
model = load_checkpoint().model.eval().to(device, memory_format=torch.channels_last)
width, height = (int(v) for v in (args.size.split("x") if "x" in args.size else (args.size, args.size)))
x = torch.rand(1, 3, height, width, device=device).contiguous(memory_format=torch.channels_last)


def timed(run) -> tuple[float, float, torch.Tensor]:
    """(first call, best later call) in seconds, and the output."""
    times = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=args.half):
        for _ in range(args.repeat + 1):
            synchronize(device)
            start = time.perf_counter()
            out = run(x, args.iterations)
            synchronize(device)
            times.append(time.perf_counter() - start)
    return times[0], min(times[1:]), out.float()


_, eager, reference = timed(model.infer)
first, compiled, out = timed(torch.compile(model.infer))
print(json.dumps({
    "device": str(device), "size": args.size, "iterations": args.iterations, "half": args.half,
    "compile_s": round(first - eager, 1), "eager_s": round(eager, 3), "compiled_s": round(compiled, 3),
    "speedup": round(eager / compiled, 2), "max_abs_diff": float((out - reference).abs().max()),
}))
