"""fhdr tonemap-preview: look at an HDR file on an ordinary screen."""

from __future__ import annotations

from pathlib import Path

import typer

from ..io.atomic import atomic_write, check_writable_dir
from ..errors import UsageError
from ..io.hdr_files import read_hdr
from ..io.ultrahdr import is_ultrahdr_path, read_ultrahdr
from ..colour.tonemap import OPERATORS, encode_png, exposure_strip
from . import Exposure, Overwrite, err_console, report_errors


@report_errors
def tonemap_preview_command(
    src: Path = typer.Argument(..., help="An .exr or .hdr file, or an Ultra HDR .jpg (its HDR rendition).", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="Output .png."),
    operator: str = typer.Option("reinhard", "--operator", help=f"One of: {', '.join(OPERATORS)}."),
    exposure: Exposure = 0.0,
    strip: bool = typer.Option(False, "--strip", help="One PNG of the image at -6, -4, -2, 0 and +2 EV side by side."),
    overwrite: Overwrite = False,
) -> None:
    """Tonemap an HDR image to PNG (Reinhard as in the paper's figures), or an exposure strip."""
    if output.suffix.lower() != ".png":
        raise UsageError(f"{output}: the preview is written as .png")
    if operator not in OPERATORS:
        raise UsageError(f"unknown operator '{operator}'; choose one of {', '.join(OPERATORS)}")
    check_writable_dir(output)
    if output.exists() and not overwrite:
        raise UsageError(f"{output}: already exists (use --overwrite)")
    hdr = read_ultrahdr(src) if is_ultrahdr_path(src) else read_hdr(src)
    preview = exposure_strip(hdr * 2.0**exposure) if strip else OPERATORS[operator](hdr, exposure)
    data = encode_png(preview)
    atomic_write(output, lambda tmp: tmp.write_bytes(data), overwrite=overwrite)
    err_console.print(f"wrote {output}", markup=False)
