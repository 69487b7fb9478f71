"""Throughput and memory of inference, next to the device's reachable convolution peak.

The peak is a 3x3 64->64 convolution in the same run, precision and memory
layout: FHDR is nearly all such convolutions, so the ratio says how much of the
machine the model actually uses. FLOPs are counted analytically (model.py).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ..inference.device import peak_memory_mib, reset_peak_memory, synchronize
from ..network.fused import conv_accumulate, onednn_available
from ..network.fhdr import flops_per_pixel
from ..inference.pipeline import Converter
from ..inference.tile import computed_pixels


@dataclass
class ModelRun:
    iterations: int
    seconds: float
    megapixels_per_s: float
    ms_per_megapixel: float
    gflops_per_s: float  # FLOPs the network computed (tile margins included) per second
    fraction_of_peak: float
    useful_fraction_of_peak: float  # output pixels' FLOPs only: what tiling overhead costs is lost here
    tiling_overhead: float  # computed pixels / output pixels
    tile: int
    peak_memory_mib: float


@dataclass
class BenchmarkReport:
    device: str
    engine: str  # "fused" (CPU oneDNN) or "plain"
    threads: int
    size: tuple[int, int]
    half: bool
    conv_peak_gflops: float
    flops_per_pixel: dict[int, int]
    runs: list[ModelRun]

    def as_dict(self) -> dict:
        return asdict(self)


def conv_peak_gflops(device: torch.device, half: bool, size: int = 384, trials: int = 10) -> float:
    """GFLOP/s of a 3x3 64->64 convolution, channels-last, at the benchmark's precision.

    The best of several trials: the reachable peak, not an average disturbed by other processes.
    On the CPU the convolution accumulates into one preallocated output, as the fused engine's
    do: a fresh output per call would time the kernel's page faults along with the arithmetic.
    """
    dtype = torch.float16 if half else torch.float32
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device=device, dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(1, 64, size, size, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    if device.type == "cpu" and onednn_available():
        out = torch.zeros_like(x)
        weight = conv.weight.detach()
        run = lambda: conv_accumulate(out, x, weight, None, [1, 1], [1, 1])  # noqa: E731
    else:
        run = lambda: conv(x)  # noqa: E731
    best = float("inf")
    with torch.inference_mode():
        run()  # warm-up: algorithm selection, allocations
        for _ in range(trials):
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            best = min(best, time.perf_counter() - start)
    return 2 * 64 * 64 * 9 * size * size / best / 1e9


def run_benchmark(load: Callable[[int], Converter], iterations: list[int], height: int, width: int,
                  repeat: int = 1, seed: int = 0) -> BenchmarkReport:
    """Time a converter from `load(n)` for each iteration count n on a random 8-bit image of height x
    width, end to end as for a decoded photo: its upload, the model, the result back in host memory.

    One converter at a time: each holds its activation buffers until it is dropped.
    """
    first = load(iterations[0])
    device, half, engine = first.device, first.half, first.engine
    peak = conv_peak_gflops(device, half)
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    runs, per_pixel_flops = [], {}
    for n in iterations:
        conv, first = first or load(n), None  # the previous converter and its buffers are dropped here
        tile = conv.tile_size(height, width)
        computed = computed_pixels(height, width, tile, conv.radius)
        # warm-up outside the timing: cuDNN autotunes every new tile shape on first sight, so CUDA sees them
        # all; on the CPU the activation buffers are allocated and faulted in
        if device.type == "cuda":
            conv(image)
        else:
            conv(image[:16, :16])
            conv.reserve(height, width)  # after the small warm-up, whose buffers it replaces
        reset_peak_memory(device)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(repeat):
            conv(image)
        synchronize(device)
        seconds = (time.perf_counter() - start) / repeat
        per_pixel = per_pixel_flops[n] = flops_per_pixel(conv.iterations, conv.model.cfg)
        flops = per_pixel * computed
        megapixels = height * width / 1e6
        runs.append(ModelRun(
            iterations=conv.iterations, seconds=seconds, megapixels_per_s=megapixels / seconds,
            ms_per_megapixel=1000 * seconds / megapixels, gflops_per_s=flops / seconds / 1e9,
            fraction_of_peak=flops / seconds / 1e9 / peak,
            useful_fraction_of_peak=per_pixel * height * width / seconds / 1e9 / peak,
            tiling_overhead=computed / (height * width),
            tile=tile, peak_memory_mib=peak_memory_mib(device),
        ))
    return BenchmarkReport(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        engine=engine, threads=torch.get_num_threads(), size=(height, width), half=half, conv_peak_gflops=peak,
        flops_per_pixel=per_pixel_flops, runs=runs,
    )
