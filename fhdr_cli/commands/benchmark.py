"""fhdr benchmark: speed, efficiency and memory of inference on this machine."""

from __future__ import annotations

import json

import typer
from rich import box
from rich.table import Table

from ..evaluation.benchmark import run_benchmark
from ..inference.pipeline import Converter
from . import Compile, Device, Half, Memory, Threads, Tile, Weights, console, print_table, report_errors


@report_errors
def benchmark_command(
    device: Device = "auto",
    size: str = typer.Option("1024x1024", "--size", help="Image size WIDTHxHEIGHT (or one number for a square)."),
    iterations: str = typer.Option("1,2,3,4", "--iterations", "-n", help="Comma-separated iteration counts to time."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Timed runs per iteration count (after a warm-up)."),
    tile: Tile = None,
    memory: Memory = None,
    half: Half = False,
    threads: Threads = None,
    weights: Weights = None,
    engine: str = typer.Option("auto", "--engine", help="auto, fused (CPU oneDNN) or plain (the nn.Module), to compare."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    compile: Compile = False,
) -> None:
    """Megapixels per second, GFLOP/s against the device's convolution peak, tiling overhead, peak memory."""
    try:
        width, height = (int(v) for v in (size.split("x") if "x" in size else (size, size)))
        counts = [int(v) for v in iterations.split(",")]
    except ValueError:
        raise typer.BadParameter("expected e.g. --size 1024x768 and --iterations 1,4") from None
    if width < 1 or height < 1:
        raise typer.BadParameter(f"--size must be at least 1x1 pixels, got {size}")
    def load(n: int) -> Converter:
        return Converter.load(weights=weights, device=device, iterations=n, tile=tile, half=half, threads=threads,
                              engine=engine, memory_budget=memory, compile=compile)

    report = run_benchmark(load, counts, height, width, repeat=repeat)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    # short lines and headers: the whole report fits 80 columns, and no number is wrapped in two
    console.print(f"device: {report.device} ({report.engine}), {report.threads} threads, {width}x{height}, "
                  f"{'fp16' if report.half else 'fp32'}", markup=False)
    console.print(f"peak of a 3x3 64->64 convolution: {report.conv_peak_gflops:.1f} GFLOP/s", markup=False)
    console.print("model FLOPs per output pixel: " + ", ".join(
        f"n={n}: {f / 1e6:.2f} M" for n, f in report.flops_per_pixel.items()), markup=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1),
                  caption="n: iterations; useful: of peak, output pixels only; MiB: peak memory", caption_justify="left")
    for header in ("n", "s", "MP/s", "ms/MP", "GFLOP/s", "of peak", "useful", "tile", "overhead", "MiB"):
        table.add_column(header, justify="right", no_wrap=True)
    for r in report.runs:
        table.add_row(str(r.iterations), f"{r.seconds:.2f}", f"{r.megapixels_per_s:.3f}", f"{r.ms_per_megapixel:.0f}",
                      f"{r.gflops_per_s:.1f}", f"{100 * r.fraction_of_peak:.0f} %",
                      f"{100 * r.useful_fraction_of_peak:.0f} %", str(r.tile),
                      f"{r.tiling_overhead:.2f}x", f"{r.peak_memory_mib:.0f}")
    print_table(table)
