"""`fhdr` and `python -m fhdr_cli`: the SIGTERM handler first, then the (heavy) command line."""

from __future__ import annotations

import signal
import sys


def _interrupt(signum, frame):  # SIGTERM unwinds like Ctrl-C, so temporary files get removed
    raise KeyboardInterrupt


def main() -> None:
    # Before anything imports torch: that takes seconds of CPU, and a scheduler's SIGTERM arriving
    # then must still end in "interrupted" and exit 130, not in a bare kill (-15).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from .cli import app
    except KeyboardInterrupt:
        print("fhdr: interrupted", file=sys.stderr)
        sys.exit(130)
    app()


if __name__ == "__main__":
    main()
