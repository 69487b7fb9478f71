"""fhdr batch: convert a folder of photos, mirroring its tree; goes on past bad files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import UsageError
from ..inference.batch import BatchResult, plan_batch, run_batch
from ..inference.pipeline import Converter
from ..inference.ray_batch import connect, run_ray_batch
from ..inference.report import failed_sources, write_report
from ..inference.shard import parse_shard, read_file_list, scheduler_shard
from ..io.atomic import check_writable_dir
from ..io.ultrahdr import parse_max_boost
from . import (
    ColourSpaceOption, Compile, Device, Exposure, Float32, Half, Highlights, Iterations, MaxBoost, Memory, Overwrite,
    Threads, Tile, Weights, Wrap, err_console, print_table, report_errors,
)


@report_errors
def batch_command(
    in_dir: Path = typer.Argument(..., help="Folder of JPEG/PNG/TIFF/HEIC/WebP photos.", show_default=False),
    out_dir: Path = typer.Argument(..., help="Folder for the HDR files (created; the tree is mirrored).", show_default=False),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Include subfolders."),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="Only file names matching this glob, e.g. 'IMG_*.jpg'."),
    fmt: str = typer.Option("exr", "--format", help="exr, hdr, or jpg (Ultra HDR JPEG: the photo with brighter highlights on HDR screens)."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Leave files whose output exists (resume a batch)."),
    skip_failed: Optional[Path] = typer.Option(
        None, "--skip-failed", metavar="REPORT",
        help="Leave the photos that this earlier --report lists as failed (resume without retrying them)."),
    shard: Optional[str] = typer.Option(
        None, "--shard", metavar="K/N",
        help="Convert only shard K of N (K from 0; a file's shard follows from its path, so N jobs cover every "
             "file once). Default in a SLURM job array: its task id and count; in a Kubernetes Indexed Job: "
             "JOB_COMPLETION_INDEX, with FHDR_SHARD_COUNT pods."),
    files_from: Optional[str] = typer.Option(
        None, "--files-from", metavar="FILE",
        help="Convert exactly the files listed in FILE ('-': standard input), one per line, relative to IN_DIR."),
    report: Optional[Path] = typer.Option(
        None, "--report", metavar="FILE",
        help="Write one JSON line per photo: source, output, status, reason, seconds, megapixels."),
    ray: Optional[str] = typer.Option(
        None, "--ray", metavar="ADDRESS",
        help="Run on a Ray cluster (pip install 'fhdr[ray]'): auto (the cluster this machine belongs to, or "
             "RAY_ADDRESS), HOST:PORT, ray://HOST:PORT, or local (a private one on this machine). IN_DIR and "
             "OUT_DIR must be the same paths on every node."),
    overwrite: Overwrite = False,
    iterations: Iterations = 4,
    tile: Tile = None,
    memory: Memory = None,
    device: Device = "auto",
    half: Half = False,
    threads: Threads = None,
    exposure: Exposure = 0.0,
    highlights: Highlights = 1.0,
    float32: Float32 = False,
    weights: Weights = None,
    wrap: Wrap = False,
    colour_space: ColourSpaceOption = "rec709",
    max_boost: MaxBoost = "4",
    compile: Compile = False,
) -> None:
    """Convert every photo in a folder. Exit 1 if any file failed, 0 otherwise."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing exclude each other")
    boost_stops = parse_max_boost(max_boost)
    if fmt == "jpg" and colour_space != "rec709":
        raise UsageError("an Ultra HDR JPEG keeps each photo's own colour space; --colour-space is for exr and hdr")
    chosen = parse_shard(shard) if shard is not None else scheduler_shard()
    listed = read_file_list(files_from, in_dir) if files_from is not None else None
    if report is not None:
        check_writable_dir(report)  # before hours of work, not after
    jobs = plan_batch(in_dir, out_dir, recursive=recursive, pattern=pattern, fmt=fmt, files=listed, shard=chosen)
    skip = frozenset(failed_sources(skip_failed)) if skip_failed else frozenset()
    if chosen is not None:
        err_console.print(f"fhdr: shard {chosen} (from {chosen.origin}): {len(jobs)} photos", markup=False)
    if not jobs:
        if report is not None:
            write_report(report, [])
        err_console.print(f"fhdr: no JPEG/PNG/TIFF/HEIC/WebP files in {in_dir}", markup=False)
        return
    options = {"weights": weights and weights.absolute(), "iterations": iterations, "tile": tile, "half": half,
               "exposure_ev": exposure, "highlights": highlights, "memory_budget": memory, "wrap": wrap,
               "colour_space": colour_space, "compile": compile}
    if ray is None:
        converter = Converter.load(device=device, threads=threads, **options)
    else:  # bad weights or settings fail here, in one line, before a cluster spends minutes on them
        Converter.load(device="cpu", **{**options, "half": False, "compile": False})
        connect(ray)
    results: list[BatchResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # a bar on a terminal; elsewhere (a log, a CI job) one line per file as it finishes
    tty = err_console.is_terminal
    try:
        with Progress(*columns, console=err_console, disable=not tty) as progress:
            files = progress.add_task("files", total=len(jobs))
            tiles = progress.add_task("tiles", total=None, visible=False)

            def on_tile(done: int, total: int) -> None:
                progress.update(tiles, completed=done, total=total, visible=total > 1)

            if ray is None:
                running = run_batch(jobs, converter, overwrite=overwrite, skip_existing=skip_existing, float32=float32,
                                    on_tile=on_tile, skip=skip, max_boost=boost_stops)
            else:
                running = run_ray_batch(jobs, {**options, "device": device}, overwrite=overwrite,
                                        skip_existing=skip_existing, float32=float32, skip=skip, max_boost=boost_stops)
            for done, result in enumerate(running, 1):
                results.append(result)
                if not tty:
                    err_console.print(f"[{done}/{len(jobs)}] {_progress_line(result)}", markup=False)
                elif result.status == "failed":
                    progress.console.print(_progress_line(result), markup=False)
                progress.update(files, advance=1)
    finally:  # an interrupted batch reports the photos it finished
        if report is not None:
            write_report(report, results)

    counts = Counter(r.status for r in results)
    table = Table(title=f"fhdr batch: {in_dir} -> {out_dir}")
    table.add_column("converted", justify="right")
    table.add_column("skipped", justify="right")
    table.add_column("failed", justify="right")
    table.add_row(str(counts["converted"]), str(counts["skipped"]), str(counts["failed"]))
    print_table(table)
    panoramas = [r for r in results if r.unwrapped_panorama]
    if panoramas:
        err_console.print(f"note: {len(panoramas)} of the photos look like 360-degree panoramas (2:1, their left and "
                          f"right edges match; e.g. {panoramas[0].job.src}); --wrap would join them without a seam",
                          markup=False)
    failures = [r for r in results if r.status == "failed"]
    if failures:
        detail = Table("file", "reason", title="failures")
        for r in failures:
            detail.add_row(str(r.job.src), r.reason.removeprefix(f"{r.job.src}: "))
        print_table(detail)
        raise typer.Exit(1)


def _progress_line(result: BatchResult) -> str:
    if result.status == "converted":
        return f"converted {result.job.src} -> {result.job.dst}"
    if result.status == "skipped":
        return f"skipped {result.job.src} ({result.reason})"
    return f"failed: {_named(result)}"


def _named(result: BatchResult) -> str:
    """The failure's reason, naming the photo once (most reasons already start with its path)."""
    src = str(result.job.src)
    return result.reason if result.reason.startswith(f"{src}: ") else f"{src}: {result.reason}"
