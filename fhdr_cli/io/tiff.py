"""What a TIFF photo holds, read from its first IFD before OpenCV (libtiff) sees the bytes.

The reader (io/photo.py) takes the layouts that OpenCV decodes as the file means them: 8- or
16-bit unsigned samples, grey, RGB or RGBA (8-bit also palette and YCbCr, e.g. JPEG-compressed
TIFFs), compressed as libtiff in OpenCV can decode. Everything else is refused here with a
sentence saying what it is, because OpenCV would misread it without a word: float and LogLuv
files (HDR already), CMYK and Lab (converted without their profile), grey + alpha (alpha dropped),
16-bit files with separate planes (planes read as interleaved) or white-is-zero (not inverted).

OpenCV also turns TIFFs by their orientation tag itself (only partly, for 8-bit images it reads a
line at a time), and libtiff multiplies 8-bit colour by unassociated alpha; so the copy decoded says
"as stored" and "associated alpha" instead (`repairs`), and the reader applies the orientation as
for a JPEG and keeps the colour as the file stores it. Every offset and count is checked against
the file; no value is read outside it.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from fhdr_cli.io.exif import Entry, entry_bytes, entry_integers, walk_ifd
from fhdr_cli.io.jpeg_markers import Repair
from fhdr_cli.io.refusals import Damaged, Refused

TIFF_SIGNATURES = (b"II*\0", b"MM\0*")
BIGTIFF_SIGNATURES = (b"II+\0", b"MM\0+")

_WIDTH, _HEIGHT, _BITS, _COMPRESSION, _PHOTOMETRIC = 256, 257, 258, 259, 262
_ORIENTATION, _SAMPLES, _PLANAR, _TILE_WIDTH, _TILE_HEIGHT = 274, 277, 284, 322, 323
_EXTRA_SAMPLES, _SAMPLE_FORMAT, _ICC = 338, 339, 34675
_SHORT = 3
_ASSOCIATED_ALPHA = 1
_UINT, _FLOAT = 1, 3  # sample formats
_WHITE_IS_ZERO, _BLACK_IS_ZERO, _RGB, _PALETTE, _CMYK, _YCBCR = 0, 1, 2, 3, 5, 6
_LAB = (8, 9, 10)  # CIE, ICC and ITU L*a*b*
_LOG_LUMINANCE = (32844, 32845)  # LogL, LogLuv: HDR encodings
# Compression -> how many bytes of samples one byte of it can decode to at the most (none: 4, not
# 1, leaves room for subsampled YCbCr). A file declaring more pixels than its bytes can hold is
# damaged or hostile: it is refused before libtiff allocates for it.
_MOST_EXPANSION = {1: 4, 5: 4096, 7: 8192 * 4, 8: 1032, 32946: 1032, 32773: 64}  # LZW, JPEG, deflate, PackBits
_COMPRESSION_NAMES = {2: "CCITT", 3: "CCITT G3", 4: "CCITT G4", 6: "old-style JPEG", 34712: "JPEG 2000",
                      34925: "LZMA", 50000: "Zstandard", 50001: "WebP", 50002: "JPEG XL"}


class TiffLayout(NamedTuple):
    width: int
    height: int
    bit_depth: int  # 8 or 16, per sample
    channels: int  # what OpenCV decodes it to: 1 (grey), 3 (colour) or 4 (colour and alpha)
    premultiplied: bool  # the colour is stored multiplied by alpha (associated alpha)
    icc: bytes  # the embedded ICC colour profile, if any
    most_pixels: int  # the most pixels its bytes can genuinely encode
    repairs: tuple[Repair, ...]  # orientation 1 and associated alpha, in the copy OpenCV decodes


def tiff_layout(data: bytes) -> TiffLayout:
    """The layout of a TIFF's first image (`data` starts with a TIFF signature)."""
    order = "<" if data[:2] == b"II" else ">"
    entries: dict[int, Entry] = {}
    repairs: list[Repair] = []
    try:
        (first_ifd,) = struct.unpack_from(order + "I", data, 4)
        for at, tag, entry in walk_ifd(data, order, first_ifd):
            entries.setdefault(tag, entry)
            if tag in (_ORIENTATION, _EXTRA_SAMPLES):  # every copy of them: libtiff may read another
                repairs.append((at, at + 12, struct.pack(order + "HHIH2x", tag, _SHORT, 1, 1)))
    except struct.error:
        raise Damaged from None

    def numbers(tag: int, default: tuple[int, ...] | None = None, most: int = 1) -> tuple[int, ...]:
        if tag not in entries and default is not None:
            return default
        values = entry_integers(data, order, entries[tag], most) if tag in entries else ()
        if not values:
            raise Damaged
        return values

    try:
        (width,), (height,), (photometric,) = numbers(_WIDTH), numbers(_HEIGHT), numbers(_PHOTOMETRIC)
        (samples,) = numbers(_SAMPLES, (1,))
        formats = set(numbers(_SAMPLE_FORMAT, (_UINT,), most=4))
        if _FLOAT in formats or photometric in _LOG_LUMINANCE:
            raise Refused("floating-point TIFF: it holds HDR (float) data already, which fhdr does not "
                          "take as input (it makes HDR from 8- or 16-bit photos)")
        if formats != {_UINT}:
            raise Refused(f"TIFF sample format {min(formats - {_UINT})} (signed or undefined) is not supported")
        bits = set(numbers(_BITS, (1,), most=4))
        if len(bits) > 1:
            raise Refused("TIFF with different bit depths per channel is not supported")
        (bit_depth,) = bits
        if bit_depth not in (8, 16):
            raise Refused(f"{bit_depth}-bit TIFF is not supported (8 or 16 bits per sample)")
        channels = _channels(photometric, samples, bit_depth)
        (compression,) = numbers(_COMPRESSION, (1,))
        if compression not in _MOST_EXPANSION:
            what = _COMPRESSION_NAMES.get(compression, str(compression))
            raise Refused(f"TIFF compression {what} is not supported (none, LZW, deflate/ZIP, PackBits or JPEG)")
        (planar,) = numbers(_PLANAR, (1,))
        if bit_depth == 16 and planar == 2 and samples > 1:
            raise Refused("16-bit TIFF with separate colour planes is not supported; "
                          "save it with interleaved channels")
        premultiplied = channels == 4 and numbers(_EXTRA_SAMPLES, (0,))[0] == _ASSOCIATED_ALPHA
        # Whole tiles are decoded (and allocated), so a tile is bound by the bytes like the image.
        (tile_width,), (tile_height,) = numbers(_TILE_WIDTH, (0,)), numbers(_TILE_HEIGHT, (0,))
    except ValueError:  # a value outside the file, or of a type that cannot hold it
        raise Damaged from None
    most_pixels = len(data) * _MOST_EXPANSION[compression] // (samples * bit_depth // 8)
    if tile_width * tile_height > most_pixels:
        raise Damaged
    icc = _icc(data, order, entries.get(_ICC))
    return TiffLayout(width, height, bit_depth, channels, premultiplied, icc, most_pixels, tuple(repairs))


def _icc(data: bytes, order: str, entry: Entry | None) -> bytes:
    """The ICC profile's bytes; b"" if there is none or it lies outside the file (libtiff ignores it too)."""
    if entry is None or entry[0] not in (1, 7):  # BYTE or UNDEFINED
        return b""
    try:
        return entry_bytes(data, order, entry)
    except ValueError:
        return b""


def _channels(photometric: int, samples: int, bit_depth: int) -> int:
    """How many channels OpenCV decodes this colour model to, or Refused."""
    if photometric == _CMYK:
        raise Refused("CMYK TIFF is not supported; convert it to RGB")
    if photometric in _LAB:
        raise Refused("Lab TIFF is not supported; convert it to RGB")
    models = {_WHITE_IS_ZERO: "grey", _BLACK_IS_ZERO: "grey", _RGB: "RGB", _PALETTE: "palette", _YCBCR: "YCbCr"}
    if photometric not in models:
        raise Refused(f"TIFF colour model {photometric} is not supported (grey, RGB, palette or YCbCr)")
    if bit_depth == 16 and photometric not in (_BLACK_IS_ZERO, _RGB):
        what = "white-is-zero grey" if photometric == _WHITE_IS_ZERO else models[photometric]
        raise Refused(f"16-bit {what} TIFF is not supported (16-bit grey or RGB only)")
    if models[photometric] == "grey" and samples == 2:
        raise Refused("grey + alpha TIFF is not supported (its alpha would be lost); "
                      "save it as RGBA, or as grey without alpha")
    expected = {"grey": (1,), "RGB": (3, 4), "palette": (1,), "YCbCr": (3,)}[models[photometric]]
    if samples not in expected:
        raise Refused(f"{models[photometric]} TIFF with {samples} channels is not supported")
    return 1 if models[photometric] == "grey" else max(3, samples)
