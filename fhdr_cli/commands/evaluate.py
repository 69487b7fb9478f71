"""fhdr evaluate: held-out quality of the weights against classic expansion operators."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from ..errors import UsageError
from ..evaluation.evaluate import evaluate
from . import Device, Threads, Weights, comma_list, console, err_console, print_table, report_errors


@report_errors
def evaluate_command(
    hdr: Path = typer.Option(..., "--hdr", help="Folder of ground-truth .exr/.hdr scenes (trained-on scenes are skipped)."),
    views: int = typer.Option(16, "--views", min=1, help="Simulated photos per scene (fewer: faster, noisier)."),
    size: int = typer.Option(256, "--size", min=32, help="View size in pixels (panoramas and cube strips)."),
    iterations: str = typer.Option("1,2,3,4", "--iterations", "-n", help="Iteration counts to evaluate."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulated photos (the same seed, the same photos)."),
    device: Device = "auto",
    threads: Threads = None,
    weights: Weights = None,
    highlights: str = typer.Option("1", "--highlights", metavar="FACTORS",
                                   help="fhdr convert's --highlights factors to evaluate, e.g. 1,1.5,2."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """PSNR-mu, SSIM-mu, clipped PSNR-mu, HDR-FLIP, light error and shadow bias, FHDR vs baselines.

    Panoramas give perspective views of --size pixels; flat HDR images are evaluated whole."""
    counts = comma_list(iterations, int, "--iterations 1,2,3,4")
    factors = comma_list(highlights, float, "--highlights 1,1.5,2")
    if not hdr.is_dir():
        raise UsageError(f"{hdr}: not a folder (--hdr takes a folder of .exr/.hdr scenes)")
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task("evaluating", total=None)
        report = evaluate(hdr, weights=weights, iterations=counts, views_per_scene=views, size=size, seed=seed,
                          device=device, threads=threads, highlights=factors,
                          on_view=lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    console.print(f"held-out scenes: {', '.join(report.scenes)}", markup=False)
    console.print(f"{report.views_per_scene} view{'s' if report.views_per_scene > 1 else ''} each (seed {report.seed}): "
                  f"panoramas as {report.size}px views, flat images whole", markup=False)
    if report.skipped_trained:
        console.print(f"skipped (trained on): {', '.join(report.skipped_trained)}", markup=False)
    table = Table("method", "PSNR-mu (dB) ↑", "SSIM-mu ↑", "PSNR-mu clipped (dB) ↑", "HDR-FLIP ↓")
    for method, row in report.rows.items():
        table.add_row(method, f"{row['psnr_mu']:.2f}", f"{row['ssim_mu']:.4f}", f"{row['psnr_mu_clipped']:.2f}",
                      f"{row['hdr_flip']:.4f}")
    print_table(table)
    light = Table("method", "light err ↓", "bias", "with source ↓", "sRGB shadows <2%", "2-10%")
    for method, row in report.rows.items():
        srgb = report.shadows_by_curve.get(method, {}).get("srgb", {})
        light.add_row(method, _stops(row["light_error"]), _stops(row["light_bias"], "+"), _stops(row["light_error_sources"]),
                      _stops(srgb.get("shadows_below_2pct", float("nan")), "+"),
                      _stops(srgb.get("shadows_2_to_10pct", float("nan")), "+"))
    print_table(light)
    console.print("light: |log2(predicted / true light of the photo's clipped pixels)|, in stops\n"
                  "(bias < 0: too dim); shadows: median log2(predicted / true luminance)", markup=False)


def _stops(value: float, sign: str = "") -> str:
    """A value in stops, or n/a where the views had nothing to measure (no clipping, no light source)."""
    return "n/a" if value != value else format(value, f"{sign}.2f")
