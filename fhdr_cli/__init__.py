"""fhdr: one LDR photo in, scene-linear HDR out, with the FHDR feedback network.

    import fhdr_cli
    hdr = fhdr_cli.convert(rgb)          # HxWx3 uint8/uint16/float -> HxWx3 float32 scene-linear
    fhdr_cli.convert_file("photo.jpg", "photo.exr")   # what `fhdr convert` does
"""

__version__ = "0.1.0"

from .hdr_files import read_hdr, write_hdr  # noqa: E402
from .pipeline import Converter, convert, convert_file  # noqa: E402
from .read import read_ldr  # noqa: E402

__all__ = ["Converter", "convert", "convert_file", "read_hdr", "read_ldr", "write_hdr", "__version__"]
