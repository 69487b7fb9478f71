"""`fhdr` and `python -m fhdr_cli`: the signal handlers first, then the (heavy) command line."""

from __future__ import annotations

import signal
import sys

_held: list[int] | None = None  # while the command line is imported, SIGTERM and Ctrl-C wait here


def _interrupt(signum, frame):  # SIGTERM unwinds like Ctrl-C, so temporary files get removed
    if _held is not None:
        _held.append(signum)
        return
    raise KeyboardInterrupt


def _say_interrupted() -> None:
    print("fhdr: interrupted", file=sys.stderr)


def _import_app():
    """`fhdr_cli.cli.app`, importing torch and the rest; a SIGTERM or Ctrl-C meanwhile raises once
    they are in.

    Torch's C++ start-up calls back into Python, and a KeyboardInterrupt raised there aborts the
    process ("terminate called after throwing an instance of 'pybind11::error_already_set'", -6).
    """
    global _held
    _held = []
    try:
        from .cli import app
    finally:
        held, _held = _held, None
    if held:
        raise KeyboardInterrupt
    return app


def _forget_caught_interrupts() -> None:
    """Clear CPython's mark of an unhandled Ctrl-C, which under `python -m` ends the process by SIGINT
    (-2) whatever exit status we chose. A KeyboardInterrupt leaving code run by exec/eval of a string
    sets it even when caught further up (namedtuple and dataclass build their methods so, in many
    imports: torch's, pydantic's while typer parses); every string exec clears it first."""
    exec("pass", {})


def main() -> None:
    # Before anything imports torch: that takes seconds of CPU, and a scheduler's SIGTERM arriving
    # then must still end in "interrupted" and exit 130, not in a bare kill (-15) or an abort (-6).
    # Outside the imports Ctrl-C raises KeyboardInterrupt as before; a shell that started us with
    # SIGINT ignored (a background job) keeps it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        app = _import_app()
        app()
    except KeyboardInterrupt:  # while importing, or in typer before it runs the command
        _say_interrupted()
        sys.exit(130)
    except SystemExit as exit_:
        # Typer turns an interrupt that lands while it parses the arguments (and imports what that
        # needs: pydantic, for a second) into a silent exit 130. A command says it itself.
        commands = sys.modules.get("fhdr_cli.commands")
        if exit_.code == 130 and not (commands and commands.settings.interrupt_reported):
            _say_interrupted()
        raise
    finally:
        _forget_caught_interrupts()  # the exit status is ours: no interrupt went unhandled


if __name__ == "__main__":
    main()
