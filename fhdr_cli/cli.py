"""The `fhdr` command: a thin Typer layer over the Python API, one module per subcommand."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from typing import Iterator

import typer
# typer 0.29 vendors click: its parser raises these, not click's
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperCommand, TyperGroup

from . import __version__
from .commands import err_console, settings
from .commands.batch import batch_command
from .commands.benchmark import benchmark_command
from .commands.convert import convert_command
from .commands.evaluate import evaluate_command
from .commands.info import info_command
from .commands.tonemap_preview import tonemap_preview_command
from .commands.train import train_command


@contextlib.contextmanager
def _script_conventions() -> Iterator[None]:
    """Errors the option parser catches read like ours (one `fhdr: error:` line, exit 2), and a reader
    that goes away (`fhdr info | head -1`) ends the command quietly with a closed pipe's status."""
    try:
        yield
    except NoArgsIsHelpError:
        raise  # a bare `fhdr`: the help itself, on stderr with exit 2, as click shows it
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = " ".join(exc.format_message().split())
        err_console.print(f"fhdr: error: {message}{hint}", markup=False)
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        # nothing more can reach stdout; point it at /dev/null so the interpreter's final flush cannot
        # fail again, and exit with 128 + SIGPIPE, what a shell reports for `cat` in the same place
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(128 + signal.SIGPIPE) from None


class FhdrCommand(TyperCommand):
    def collect_usage_pieces(self, ctx) -> list[str]:
        # typer 0.29 writes a required argument as {src}, which reads like a set; SRC is the convention
        return [p[1:-1].upper() if p.startswith("{") and p.endswith("}") else p
                for p in super().collect_usage_pieces(ctx)]


class FhdrGroup(TyperGroup):
    """The `fhdr` group: `--debug` anywhere on the line, script-friendly errors and closed pipes."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        # `fhdr convert photo.jpg --debug` means `fhdr --debug convert photo.jpg` (not after a `--`)
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [a for i, a in enumerate(args) if a != "--debug" or i >= end]
        return super().parse_args(ctx, args)

    def make_context(self, *args, **kwargs):
        with _script_conventions():  # the group's own options and `fhdr --help`
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _script_conventions():  # the subcommand: its options, its help and its run
            return super().invoke(ctx)


app = typer.Typer(
    cls=FhdrGroup,
    name="fhdr",
    help="Turn one LDR photo (JPEG/PNG/TIFF/HEIC/WebP) into a scene-linear HDR image (OpenEXR / Radiance .hdr) with the FHDR network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: no boxes to cut names and defaults at 80 columns, no padding, flags without <bool>
    rich_markup_mode=None,
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


# short_help: the list in `fhdr --help` shows these whole at 80 columns (click cuts longer ones with "...")
app.command("convert", cls=FhdrCommand, short_help="Convert one LDR photo into a scene-linear HDR image.")(convert_command)
app.command("batch", cls=FhdrCommand, short_help="Convert every photo in a folder.")(batch_command)
app.command("tonemap-preview", cls=FhdrCommand, short_help="Tonemap an HDR image to a PNG preview.")(tonemap_preview_command)
app.command("benchmark", cls=FhdrCommand, short_help="Measure speed, efficiency and memory here.")(benchmark_command)
app.command("info", cls=FhdrCommand, short_help="Show the model, its weights and their training.")(info_command)
app.command("train", cls=FhdrCommand, short_help="Train FHDR weights on real HDR scenes.")(train_command)
app.command("evaluate", cls=FhdrCommand, short_help="Score FHDR and baselines on held-out scenes.")(evaluate_command)

