"""The `fhdr` command: a thin Typer layer over the Python API, one module per subcommand."""

from __future__ import annotations

import warnings

import typer

from . import __version__
from .commands import settings
from .commands.batch import batch_command
from .commands.benchmark import benchmark_command
from .commands.convert import convert_command
from .commands.evaluate import evaluate_command
from .commands.info import info_command
from .commands.tonemap_preview import tonemap_preview_command
from .commands.train import train_command

app = typer.Typer(
    name="fhdr",
    help="Turn one LDR photo (JPEG/PNG) into a scene-linear HDR image (OpenEXR / Radiance .hdr) with the FHDR network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fhdr {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    """fhdr: single-image HDR reconstruction (FHDR, Khan et al., GlobalSIP 2019)."""
    settings.debug = debug
    if not debug:
        # torch.load(weights_only=True) warns about the pickle protocol of a foreign file just before
        # refusing it; the refusal is reported in one line, and the warning would only garble it.
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)


app.command("convert")(convert_command)
app.command("batch")(batch_command)
app.command("tonemap-preview")(tonemap_preview_command)
app.command("benchmark")(benchmark_command)
app.command("info")(info_command)
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)

