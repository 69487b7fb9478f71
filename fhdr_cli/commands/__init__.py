"""One module per subcommand; this file holds what they share: error reporting and the consoles."""

from __future__ import annotations

import functools
import re
import traceback
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ..errors import FhdrError
from ..io.photo import locked_stderr

console = Console()
# Through locked_stderr: a decoder on a reader thread borrows file descriptor 2 for a moment,
# and whatever we printed then would vanish into its capture.
err_console = Console(file=locked_stderr, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable)
T = TypeVar("T")


def print_table(table: Table) -> None:
    """A rich table on stdout without the spaces rich pads every line with up to the table's width."""
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        typer.echo(line.rstrip())


class _Settings:
    debug = False  # set by the root callback from `fhdr --debug`
    interrupt_reported = False  # a command said "interrupted" (the entry point must not say it twice)


settings = _Settings()


def report_errors(command: F) -> F:
    """Turn an FhdrError into one line on stderr and its exit code (2 usage, 1 failure).

    ``fhdr --debug`` shows the traceback instead. Ctrl-C / SIGTERM exit with 130.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FhdrError as exc:
            if settings.debug:
                err_console.print(traceback.format_exc(), markup=False)
            err_console.print(f"fhdr: error: {exc}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("fhdr: interrupted", markup=False)
            settings.interrupt_reported = True
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def comma_list(text: str, convert: Callable[[str], T], example: str) -> tuple[T, ...]:
    """An option's comma-separated values ("1,1.5,2" -> (1.0, 1.5, 2.0)); BadParameter showing `example`."""
    try:
        return tuple(convert(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected e.g. {example}") from None


MIN_MEMORY = 256 << 20


def _memory_bytes(value: Optional[str]) -> Optional[int]:
    """--memory: '800M', '8G', '1.5GiB' -> bytes (binary units)."""
    if value is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)(?:I?B)?", value.strip().upper())
    if not match:
        raise typer.BadParameter(f"expected a size such as 800M or 8G, got '{value}'")
    size = int(float(match[1]) * 1024 ** " KMGT".index(match[2] or " "))
    if size < MIN_MEMORY:
        raise typer.BadParameter(f"at least 256M is needed, got '{value}'")
    return size


# Options shared by the commands that run the model (Annotated aliases keep their help in one place).
Iterations = Annotated[int, typer.Option("--iterations", "-n", min=1, max=4, help="Feedback iterations (1 fastest, 4 best).")]
Tile = Annotated[Optional[int], typer.Option("--tile", help="Tile size in pixels (default: from the memory budget; exact either way).")]
Memory = Annotated[Optional[str], typer.Option(
    "--memory", callback=_memory_bytes, metavar="SIZE",
    help="CPU memory budget per photo, e.g. 8G: bigger tiles, less margin overhead, faster "
         "(default: the whole photo when it needs at most 4 GiB, else 1.4 GiB tiles).")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
Half = Annotated[bool, typer.Option("--half", help="fp16 autocast (CUDA only).")]
Threads = Annotated[Optional[int], typer.Option("--threads", help="CPU threads (default: one per core).")]
Weights = Annotated[Optional[Path], typer.Option("--weights", help="FHDR checkpoint to use instead of the shipped one.")]
Exposure = Annotated[float, typer.Option("--exposure", help="Shift the result by this many stops (EV).")]
Highlights = Annotated[float, typer.Option(
    "--highlights", metavar="FACTOR",
    help="Scale the light recovered in clipped highlights: 1.3 lifts a lamp the network puts 4 stops "
         "above the photo to 5.2 stops (0: none; 0-3).")]
Float32 = Annotated[bool, typer.Option("--float32", help="Write 32-bit float EXR instead of half.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
ColourSpaceOption = Annotated[str, typer.Option(
    "--colour-space", "--color-space",
    help="Output primaries: rec709 (linear sRGB primaries, D65; games and most tools) or acescg "
         "(ACES AP1; VFX working space). Recorded in the file.")]
Compile = Annotated[bool, typer.Option(
    "--compile", help="torch.compile the network (CUDA): about 1.8x faster in fp16 after ~15 s of compiling per "
                      "photo size; pays on batches of same-size photos.")]
Wrap = Annotated[bool, typer.Option(
    "--wrap", help="360-degree panorama (equirectangular): its left and right edges meet, so the result has no seam there.")]
# a string, read by ultrahdr.parse_max_boost: stops ("4") or a ratio ("16x")
MaxBoost = Annotated[str, typer.Option(
    "--max-boost", metavar="STOPS|RATIO",
    help="Ultra HDR JPEG output: the most its highlights go above the photo's white, in stops (4) or as a "
         "ratio (16x); today's HDR screens show 3-4 stops.")]
