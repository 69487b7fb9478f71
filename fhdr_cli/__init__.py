"""fhdr: one LDR photo in, scene-linear HDR out, with the FHDR feedback network.

    import fhdr_cli
    hdr = fhdr_cli.convert(rgb)          # HxWx3 uint8/uint16/float -> HxWx3 float32 scene-linear
    fhdr_cli.convert_file("photo.jpg", "photo.exr")   # what `fhdr convert` does
"""

from __future__ import annotations

import importlib

from .version import __version__

# The API is imported on first use: importing torch takes seconds, and the `fhdr` command must
# install its SIGTERM handler (fhdr_cli/__main__.py) before that, not after.
_API = {"Converter": "inference.pipeline", "convert": "inference.pipeline", "convert_file": "inference.pipeline",
        "read_hdr": "io.hdr_files", "write_hdr": "io.hdr_files", "read_ldr": "io.photo"}

__all__ = [*sorted(_API), "__version__"]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
