"""fhdr convert: one photo in, one HDR file out."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress

from ..io.atomic import check_writable_dir
from ..errors import UsageError
from ..inference.pipeline import Converter, check_output, convert_file
from ..io.ultrahdr import parse_max_boost
from . import (
    ColourSpaceOption, Device, Exposure, Float32, Half, Highlights, Iterations, MaxBoost, Memory, Overwrite,
    Threads, Tile, Weights, Wrap, err_console, report_errors,
)


@report_errors
def convert_command(
    src: Path = typer.Argument(..., help="Input photo (JPEG, PNG, TIFF, HEIC or WebP; 8 to 16 bit).", show_default=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output .exr, .hdr, or .jpg for an Ultra HDR JPEG (default: input name with .exr)."),
    iterations: Iterations = 4,
    tile: Tile = None,
    memory: Memory = None,
    device: Device = "auto",
    half: Half = False,
    threads: Threads = None,
    exposure: Exposure = 0.0,
    highlights: Highlights = 1.0,
    float32: Float32 = False,
    overwrite: Overwrite = False,
    weights: Weights = None,
    wrap: Wrap = False,
    colour_space: ColourSpaceOption = "rec709",
    max_boost: MaxBoost = "4",
) -> None:
    """Reconstruct a scene-linear HDR image (EXR or Radiance .hdr) from one LDR photo, or an Ultra HDR
    JPEG (.jpg): the photo itself, with brighter highlights on HDR screens."""
    dst = output or src.with_suffix(".exr")
    # The cheap checks first, so a typo costs no model loading (convert_file repeats them).
    boost_stops = parse_max_boost(max_boost)
    check_output(src, dst, colour_space)
    check_writable_dir(dst)
    if dst.exists() and not overwrite:
        raise UsageError(f"{dst}: already exists (use --overwrite)")
    converter = Converter.load(weights=weights, device=device, iterations=iterations, tile=tile, half=half,
                               threads=threads, exposure_ev=exposure, memory_budget=memory, wrap=wrap,
                               colour_space=colour_space, highlights=highlights)
    # Not on a terminal (a log, a pipe) the transient bar would leave a stray blank line.
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task(f"converting {src.name}", total=None)
        image = convert_file(src, dst, converter, overwrite=overwrite, float32=float32, max_boost=boost_stops,
                             on_tile=lambda done, total: progress.update(task, completed=done, total=total))
    if converter.misses_wrap(image.rgb):
        err_console.print(f"note: {src.name} looks like a 360-degree panorama (2:1, its left and right edges "
                          "match); --wrap would join them without a seam", markup=False)
    err_console.print(f"wrote {dst}", markup=False)
