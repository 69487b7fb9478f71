"""fhdr: one LDR photo in, scene-linear HDR out, with the FHDR feedback network.

    import fhdr_cli
    hdr = fhdr_cli.convert(rgb)          # HxWx3 uint8/uint16/float -> HxWx3 float32 scene-linear
    fhdr_cli.convert_file("photo.jpg", "photo.exr")   # what `fhdr convert` does
"""

from .version import __version__
from .io.hdr_files import read_hdr, write_hdr
from .inference.pipeline import Converter, convert, convert_file
from .io.photo import read_ldr

__all__ = ["Converter", "convert", "convert_file", "read_hdr", "read_ldr", "write_hdr", "__version__"]
