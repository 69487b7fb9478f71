"""Read the user's LDR photos (JPEG, PNG) into float arrays, refusing anything unsafe or broken.

Input files come from anywhere, so the bytes are checked before OpenCV sees them: only JPEG and
PNG signatures are accepted, the pixel count is read from the header and capped before any
allocation, truncated JPEGs (which libjpeg would pad with grey) are refused, and every failure
is a one-line InputError naming the file.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from fhdr_cli.errors import InputError, UsageError

LDR_EXTENSIONS = (".jpg", ".jpeg", ".png")
MAX_PIXELS = 300_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
# Start-of-frame markers carry the image size: all SOFn except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_SOS, _JPEG_EOI, _JPEG_APP1 = 0xDA, 0xD9, 0xE1
# Markers that stand alone, without a length field: TEM and RST0-7.
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})
# libjpeg warnings (jerror.h) after which the pixels it returns are partly made up. Others,
# such as "extraneous bytes before marker", are common in camera files and harmless.
_JPEG_DAMAGE_WARNINGS = (
    "premature end of data segment",
    "Premature end of JPEG file",
    "bad Huffman code",
)
_MAX_CAPTURED = 1 << 16
# File descriptor 2 belongs to the whole process: one capture at a time, or two threads would
# restore each other's redirections and lose stderr for good.
_STDERR_LOCK = threading.RLock()
_EXIF_ORIENTATION_TAG = 0x0112
_TIFF_SHORT = 3

# EXIF orientation -> how to turn the stored pixels (rows, columns, ...) into the picture as shot.
_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # transposed
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],  # needs 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transversed
    8: lambda a: a.swapaxes(0, 1)[::-1],  # needs 90 degrees counter-clockwise
}


@dataclass
class LdrImage:
    """A decoded photo: gamma-encoded RGB in [0, 1] (not linearised), optional alpha, source depth."""

    rgb: np.ndarray  # float32, H x W x 3, RGB order
    alpha: np.ndarray | None  # float32, H x W, or None when the file has no alpha
    bit_depth: int  # 8 or 16: how finely the file quantised the values


class _Header(NamedTuple):
    width: int
    height: int
    orientation: int


def read_ldr(path: Path, max_pixels: int = MAX_PIXELS) -> LdrImage:
    """Read a JPEG or PNG file; path problems are UsageErrors, bad contents InputErrors."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not an image")
    if path.suffix.lower() not in LDR_EXTENSIONS:
        raise UsageError(f"{path}: cannot read '{path.suffix}' files; use .jpg, .jpeg or .png")
    try:
        # Read the bytes in Python: cv2.imread mishandles non-ASCII paths on some platforms.
        data = path.read_bytes()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(f"{path}: cannot read ({reason})") from exc
    return decode_ldr(data, str(path), max_pixels)


def decode_ldr(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> LdrImage:
    """Decode JPEG or PNG bytes; anything wrong with them raises InputError and nothing else.

    ``name`` only labels error messages. The size is checked against ``max_pixels`` from the
    header, before decoding, so a tiny file declaring a gigantic image costs nothing. EXIF
    orientation (JPEG APP1, PNG eXIf) is applied; unusable orientation data is ignored.
    """
    if data.startswith(_PNG_SIGNATURE):
        header = _png_header(data, name)
    elif data.startswith(_JPEG_SIGNATURE):
        header = _jpeg_header(data, name)
    elif not data:
        raise InputError(f"{name}: empty file, not a JPEG or PNG image")
    else:
        raise InputError(f"{name}: not a JPEG or PNG image")
    if header.width == 0 or header.height == 0:
        raise _corrupt(name)
    if header.width * header.height > max_pixels:
        raise InputError(
            f"{name}: image is {header.width}x{header.height} pixels, "
            f"more than the limit of {max_pixels:,}"
        )

    with native_stderr_captured() as messages:
        try:
            stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            stored = None
    if stored is None or stored.shape[:2] != (header.height, header.width):
        raise _corrupt(name)
    if any(warning in text for text in messages for warning in _JPEG_DAMAGE_WARNINGS):
        raise _corrupt(name)
    if stored.dtype == np.uint8:
        bit_depth, full_scale = 8, 255.0
    elif stored.dtype == np.uint16:
        bit_depth, full_scale = 16, 65535.0
    else:
        raise InputError(f"{name}: unsupported pixel type {stored.dtype}")

    if stored.ndim == 2:
        stored = stored[:, :, None]
    channels = stored.shape[2]
    if channels == 1:  # grey: the same value in R, G and B
        colour = np.broadcast_to(stored, (*stored.shape[:2], 3))
    elif channels in (3, 4):  # OpenCV gives BGR(A); grey+alpha, palette and CMYK arrive this way too
        colour = stored[:, :, 2::-1]
    else:
        raise InputError(f"{name}: unsupported {channels}-channel image")

    orient = _ORIENT[header.orientation]
    rgb = orient(colour).astype(np.float32, order="C")
    rgb /= full_scale
    alpha = None
    if channels == 4:
        alpha = orient(stored[:, :, 3]).astype(np.float32, order="C")
        alpha /= full_scale
    return LdrImage(rgb=rgb, alpha=alpha, bit_depth=bit_depth)


@contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Catch what C libraries (libjpeg, libpng, OpenEXR) print to file descriptor 2 directly.

    Their chatter bypasses Python and would garble the CLI's one-line errors, which say the same
    thing better; but libjpeg's warnings are also the only sign of a damaged JPEG that it still
    "decodes". The list holds the captured text once the ``with`` block has ended.

    Whatever other threads write to stderr meanwhile is caught too, so keep the block short.
    """
    captured: list[str] = []
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to catch
            saved = None
        if saved is None:
            yield captured
            return
        with tempfile.TemporaryFile() as sink:  # a file, not a pipe, which could fill and block
            try:
                os.dup2(sink.fileno(), 2)
                yield captured
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                captured.append(sink.read(_MAX_CAPTURED).decode("utf-8", "replace"))


def _corrupt(name: str) -> InputError:
    return InputError(f"{name}: not a JPEG or PNG image (truncated or corrupt data)")


def _png_header(data: bytes, name: str) -> _Header:
    """Size from IHDR and orientation from an eXIf chunk, after checking every chunk fits.

    The chunk check matters: OpenCV's PNG reader allocates whatever a chunk's length field
    claims, so a flipped bit there would cost gigabytes and seconds before failing.
    """
    if data[8:16] != b"\x00\x00\x00\x0dIHDR" or len(data) < 33:
        raise _corrupt(name)
    width, height = struct.unpack(">II", data[16:24])
    orientation = 1
    pos = 8
    while True:
        if pos + 12 > len(data):  # ran out before IEND
            raise _corrupt(name)
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):  # length, type, data, CRC
            raise _corrupt(name)
        if kind == b"eXIf":
            tiff = data[pos + 8 : pos + 8 + length]
            orientation = _exif_orientation(tiff.removeprefix(b"Exif\0\0"))
        elif kind == b"IEND":
            return _Header(width, height, orientation)
        pos += 12 + length


def _jpeg_header(data: bytes, name: str) -> _Header:
    """Walk the JPEG markers up to the first scan: size from SOFn, orientation from APP1 Exif.

    Also refuses files with no end-of-image marker after the scan starts: libjpeg "decodes" those
    by filling the missing part with grey, which would silently produce a wrong HDR image.
    """
    size: tuple[int, int] | None = None
    orientation = 1
    seen_exif = False
    pos = 2
    while True:
        while pos < len(data) and data[pos] != 0xFF:  # stray bytes: libjpeg skips them too
            pos += 1
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos + 3 > len(data):
            raise _corrupt(name)
        marker = data[pos]
        pos += 1
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker == _JPEG_EOI:  # image ends before any scan
            raise _corrupt(name)
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise _corrupt(name)
        segment = data[pos + 2 : pos + length]
        if marker in _JPEG_SOF and size is None:
            if len(segment) < 6:
                raise _corrupt(name)
            precision, height, width = struct.unpack(">BHH", segment[:5])
            if precision != 8:
                raise InputError(f"{name}: {precision}-bit JPEG is not supported")
            size = (width, height)
        elif marker == _JPEG_APP1 and not seen_exif and segment.startswith(b"Exif\0\0"):
            seen_exif = True
            orientation = _exif_orientation(segment[6:])
        elif marker == _JPEG_SOS:
            # 0xFF 0xD9 cannot occur inside entropy-coded data (0xFF is stuffed as 0xFF00).
            if size is None or data.find(b"\xff\xd9", pos) < 0:
                raise _corrupt(name)
            return _Header(size[0], size[1], orientation)
        pos += length


def _exif_orientation(tiff: bytes) -> int:
    """The orientation tag (1-8) from EXIF's TIFF structure; 1 (as stored) if absent or malformed."""
    if tiff[:4] == b"II*\0":
        order = "<"
    elif tiff[:4] == b"MM\0*":
        order = ">"
    else:
        return 1
    if len(tiff) < 8:
        return 1
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if entry + 12 > len(tiff):
            break
        tag, kind, _ = struct.unpack(order + "HHI", tiff[entry : entry + 8])
        if tag == _EXIF_ORIENTATION_TAG and kind == _TIFF_SHORT:
            (value,) = struct.unpack(order + "H", tiff[entry + 8 : entry + 10])
            return value if value in _ORIENT else 1
    return 1
