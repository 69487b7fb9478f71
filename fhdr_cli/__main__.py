"""`fhdr` and `python -m fhdr_cli`: the SIGTERM handler first, then the (heavy) command line."""

from __future__ import annotations

import signal
import sys


def _interrupt(signum, frame):  # SIGTERM unwinds like Ctrl-C, so temporary files get removed
    raise KeyboardInterrupt


def _say_interrupted() -> None:
    print("fhdr: interrupted", file=sys.stderr)


def main() -> None:
    # Before anything imports torch: that takes seconds of CPU, and a scheduler's SIGTERM arriving
    # then must still end in "interrupted" and exit 130, not in a bare kill (-15).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from .cli import app

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


if __name__ == "__main__":
    main()
