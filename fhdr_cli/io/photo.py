"""Read the user's LDR photos (JPEG, PNG, TIFF, HEIC, WebP) into float arrays, refusing anything
unsafe or broken.

Input files come from anywhere, so the bytes are checked before OpenCV sees them: only JPEG, PNG,
TIFF, HEIF and WebP signatures are accepted, the pixel count is read from the header and capped
before any allocation, truncated JPEGs (which libjpeg would pad with grey) are refused, TIFF layouts
that OpenCV would misread are refused (io/tiff.py), WebP's chunks are checked and its animations
refused (io/webp.py), and every failure is a one-line InputError naming the file. HEIF (HEIC) photos
are decoded by libheif instead of OpenCV (io/heif.py), under the same checks.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from fhdr_cli.errors import InputError, UsageError
from fhdr_cli.io.exif import Exif, parse_exif
from fhdr_cli.io.heif import HeifPhoto, is_heif
from fhdr_cli.io.icc import RgbProfile, already_hdr, icc_cicp, parse_icc
from fhdr_cli.io.jpeg_markers import JPEG_SOF, JPEG_SOS, DamagedJpegHeader, Repair, header_segments
from fhdr_cli.io.refusals import Damaged, Refused
from fhdr_cli.io.tiff import BIGTIFF_SIGNATURES, TIFF_SIGNATURES, tiff_layout
from fhdr_cli.io.webp import is_webp, webp_layout

LDR_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".hif", ".webp")
MAX_PIXELS = 300_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_JPEG_EOI, _JPEG_APP1, _JPEG_APP2, _JPEG_DRI = 0xD9, 0xE1, 0xE2, 0xDD
_JPEG_ICC = b"ICC_PROFILE\0"  # APP2 segments carry an ICC profile in numbered pieces after this
# A matrix/curve profile is a few kilobytes; a compressed PNG profile may not inflate past this.
_MAX_ICC_BYTES = 1 << 20
# Any marker but a restart (RST0-7); 0xFF00 is a stuffed data byte and 0xFFFF fill.
JPEG_MARKER_NOT_RST = re.compile(rb"\xff+(?![\x00\xd0-\xd7\xff])")
_JPEG_RST = re.compile(rb"\xff+[\xd0-\xd7]")
# libjpeg warnings (jerror.h) after which the pixels it returns are partly made up.
_JPEG_DAMAGE_WARNINGS = (
    "premature end of data segment",
    "Premature end of JPEG file",
    "bad Huffman code",
    "bad arithmetic code",
    "instead of RST",  # "found marker 0x.. instead of RSTn": data lost up to the next restart
    "Inconsistent progression sequence",  # coefficients refined that were never sent
)
# But libjpeg prints only its FIRST warning: a harmless one would hide the damage after it
# (fuzzing found grey-filled images behind "Invalid SOS parameters" and "unknown JFIF revision").
# So the harmless quirks it warns about in the header are repaired in the copy we decode (junk
# between segments, the JFIF version, scan parameters of a sequential file, an unknown Adobe
# transform, each set to what libjpeg assumes anyway), and any warning left counts as damage,
# except junk right before the end-of-image marker: common in camera files, and last.
_JPEG_HARMLESS_WARNING = re.compile(r"extraneous bytes before marker 0xd9")
_JPEG_SEQUENTIAL_SOF = frozenset({0xC0, 0xC1, 0xC9})
_JPEG_APP0, _JPEG_APP14 = 0xE0, 0xEE
# Huffman coding spends at least one bit per 8x8 block of the first component it scans, and a
# component can be subsampled at most 4x4, so a genuine JPEG has >= 1 byte per 8192 pixels.
# A tiny file declaring a huge image is damaged or hostile: refuse it before libjpeg spends
# seconds and gigabytes "decoding" it (it fills missing data in and, with restart markers, may
# not even complain). Arithmetic coding (SOF9-SOF15) has no such bound.
_JPEG_MIN_PIXELS_PER_BYTE = 8 * 8 * 4 * 4 * 8
_JPEG_ARITHMETIC_SOF = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_MAX_CAPTURED = 1 << 16
# libtiff's errors reach stderr only as OpenCV's log lines, which a user's OPENCV_LOG_LEVEL could
# silence; libtiff's RGBA reader logs a strip it fails to decode, then carries on without it.
_CV_LOG_ERROR = cv2.utils.logging.LOG_LEVEL_ERROR
# File descriptor 2 belongs to the whole process: one capture at a time, or two threads would
# restore each other's redirections and lose stderr for good.
_STDERR_LOCK = threading.RLock()

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


def as_shot(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation: the pixels as the file stores them -> the picture as shot."""
    return _ORIENT[orientation](pixels)


def as_stored(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Undo `_ORIENT[orientation]`: the picture as shot -> the pixels as the file stores them (each
    orientation is its own inverse, except the two quarter turns, which undo each other)."""
    return _ORIENT[{6: 8, 8: 6}.get(orientation, orientation)](pixels)


@dataclass
class LdrImage:
    """A decoded photo: sRGB-encoded RGB in [0, 1] (not linearised), optional alpha, source depth.

    A photo tagged with another colour profile (Display P3, Adobe RGB, ...) is re-encoded to the
    sRGB curve in its own primaries; `rgb_to_rec709` then takes the network's linear output to
    Rec.709 (pass it to the Converter).
    """

    rgb: np.ndarray  # float32, H x W x 3, RGB order
    alpha: np.ndarray | None  # float32, H x W, or None when the file has no alpha
    bit_depth: int  # 8 or 16: how finely the file quantised the values
    profile: RgbProfile | None = None  # the embedded colour profile, when it is not sRGB
    capture: dict[str, float | str] = field(default_factory=dict)  # exposure settings from EXIF (see exif.py)
    # EXIF orientation (1-8), already applied to `rgb`; `as_stored` undoes it. A HEIF's is 1: libheif
    # turns its pixels as shot, and the file stores no other layout to go back to.
    orientation: int = 1

    @property
    def rgb_to_rec709(self) -> np.ndarray | None:
        """3x3 from linear light in this photo's primaries to linear Rec.709; None: sRGB primaries."""
        return None if self.profile is None else self.profile.to_rec709


class _Header(NamedTuple):
    width: int
    height: int
    exif: Exif
    most_pixels: int = 0  # the most pixels bytes this many can genuinely encode (0: no bound)
    repairs: tuple[Repair, ...] = ()  # see _JPEG_HARMLESS_WARNING
    icc: bytes = b""  # the embedded ICC colour profile, if any
    layout: tuple[int, int] | None = None  # TIFF: the (bit depth, channels) OpenCV must decode it to
    premultiplied: bool = False  # TIFF with associated alpha: its colour is stored multiplied by alpha
    transfer: int | None = None  # PNG: the H.273 transfer of its cICP chunk (PQ, HLG: an HDR PNG)


def read_ldr(path: Path, max_pixels: int = MAX_PIXELS) -> LdrImage:
    """Read a JPEG, PNG, TIFF, HEIF or WebP file; path problems are UsageErrors, bad contents InputErrors."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not an image")
    if path.suffix.lower() not in LDR_EXTENSIONS:
        raise UsageError(f"{path}: cannot read '{path.suffix}' files; "
                         f"use {', '.join(LDR_EXTENSIONS[:-1])} or {LDR_EXTENSIONS[-1]}")
    try:
        # Read the bytes in Python: cv2.imread mishandles non-ASCII paths on some platforms.
        data = path.read_bytes()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(f"{path}: cannot read ({reason})") from exc
    return decode_ldr(data, str(path), max_pixels)


def decode_ldr(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> LdrImage:
    """Decode JPEG, PNG, TIFF, HEIF or WebP bytes; anything wrong with them raises InputError and
    nothing else.

    ``name`` only labels error messages. The size is checked against ``max_pixels`` from the header,
    before decoding, so a tiny file declaring a gigantic image costs nothing. EXIF orientation (JPEG
    APP1, PNG eXIf, TIFF tag 274, WebP EXIF chunk) is applied and its exposure settings kept in
    `capture`; unusable EXIF data is ignored. An embedded matrix/curve RGB colour profile (JPEG
    APP2, PNG iCCP, TIFF tag 34675, WebP ICCP chunk) is applied (see LdrImage); one that cannot be
    applied is ignored, as most viewers do, and the photo read as sRGB. A TIFF's first page is read.
    A HEIF's primary image is read as shot (its own rotation and mirroring, not its EXIF
    orientation), with its ICC profile or nclx colour box; see io/heif.py. Animated WebP is refused
    (io/webp.py).
    """
    if data.startswith(_PNG_SIGNATURE):
        kind, header = "PNG", _png_header(data, name)
    elif data.startswith(_JPEG_SIGNATURE):
        kind, header = "JPEG", _jpeg_header(data, name)
    elif data[:4] in TIFF_SIGNATURES:
        kind, header = "TIFF", _tiff_header(data, name)
    elif data[:4] in BIGTIFF_SIGNATURES:
        raise InputError(f"{name}: BigTIFF is not supported; save it as a standard TIFF")
    elif is_heif(data):
        return _decode_heif(data, name, max_pixels)
    elif is_webp(data):
        kind, header = "WebP", _webp_header(data, name)
    elif not data:
        raise InputError(f"{name}: empty file, not a JPEG, PNG, TIFF, HEIF or WebP image")
    else:
        raise InputError(f"{name}: not a JPEG, PNG, TIFF, HEIF or WebP image")
    _check_size(name, kind, header.width, header.height, max_pixels)
    if header.most_pixels and header.width * header.height > header.most_pixels:
        raise _corrupt(name, kind)  # far too few bytes for the pixels it declares
    # a PNG's cICP chunk overrides its ICC profile; either may say PQ or HLG: an HDR photo
    transfer = header.transfer if header.transfer is not None else (icc_cicp(header.icc) or (0, 0))[1]
    if refusal := already_hdr(kind, transfer):
        raise InputError(f"{name}: {refusal}")

    if header.repairs:  # JPEG: only libjpeg's warnings change, which would hide others; TIFF: see tiff.py
        kept, start = [], 0
        for repair_start, repair_end, new in header.repairs:
            kept += [data[start:repair_start], new]
            start = repair_end
        data = b"".join(kept) + data[start:]

    log_level = cv2.utils.logging.getLogLevel()
    with native_stderr_captured() as messages:
        try:
            cv2.utils.logging.setLogLevel(max(log_level, _CV_LOG_ERROR))
            stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            stored = None
        finally:
            cv2.utils.logging.setLogLevel(log_level)
    if stored is None or stored.shape[:2] != (header.height, header.width):
        raise _corrupt(name, kind)
    if header.layout and (stored.dtype.itemsize * 8, stored.shape[2] if stored.ndim == 3 else 1) != header.layout:
        raise _corrupt(name, kind)  # libtiff read another layout than the header's
    if kind == "TIFF" and any(line.startswith("[ERROR") for text in messages for line in text.splitlines()):
        raise _corrupt(name, kind)
    if any(warning in text for text in messages for warning in _JPEG_DAMAGE_WARNINGS):
        raise _corrupt(name, kind)
    if data.startswith(_JPEG_SIGNATURE):
        lines = [line for text in messages for line in text.splitlines() if line.strip()]
        # OpenCV's own log lines start with "[ WARN" / "[ INFO"; the rest are libjpeg's
        if any(not line.startswith("[") and not _JPEG_HARMLESS_WARNING.search(line) for line in lines):
            raise _corrupt(name, kind)
    full_scale = 65535.0 if stored.dtype == np.uint16 else 255.0
    profile = parse_icc(header.icc) if header.icc else None
    # OpenCV gives BGR(A); grey+alpha, palette and CMYK arrive this way too
    return _ldr_image(name, stored, full_scale, header.premultiplied, profile, header.exif, bgr=True)


def _decode_heif(data: bytes, name: str, max_pixels: int) -> LdrImage:
    """decode_ldr for HEIF (io/heif.py): libheif opens the container, the size is checked against the
    cap, then libheif decodes the primary image, turned and mirrored as shot (orientation 1)."""
    with _named_errors(name, "HEIF"):
        with native_stderr_captured():  # libheif's and libde265's chatter, if any
            photo = HeifPhoto(data)  # the container only: no pixel decoded yet
        _check_size(name, "HEIF", photo.width, photo.height, max_pixels)
        with native_stderr_captured():
            stored, full_scale, premultiplied = photo.decode()
    exif = parse_exif(photo.exif)  # exposure settings; its orientation only repeats HEIF's own, applied
    return _ldr_image(name, stored, full_scale, premultiplied, photo.profile, Exif(1, exif.capture))


def _check_size(name: str, kind: str, width: int, height: int, max_pixels: int) -> None:
    """The pixel cap, from the header: before anything is decoded."""
    if width == 0 or height == 0:
        raise _corrupt(name, kind)
    if width * height > max_pixels:
        raise InputError(f"{name}: image is {width}x{height} pixels, more than the limit of {max_pixels:,}")


def _ldr_image(name: str, stored: np.ndarray, full_scale: float, premultiplied: bool,
               profile: RgbProfile | None, exif: Exif, bgr: bool = False) -> LdrImage:
    """The LdrImage of decoded pixels (H x W grey, or H x W x 3 or 4 in RGB(A) order, BGR(A) if `bgr`;
    uint8 or uint16, white at `full_scale`), turned by `exif.orientation`, taken to the sRGB curve by
    `profile`."""
    if stored.dtype == np.uint8:
        bit_depth = 8
    elif stored.dtype == np.uint16:
        bit_depth = 16
    else:
        raise InputError(f"{name}: unsupported pixel type {stored.dtype}")

    if stored.ndim == 2:
        stored = stored[:, :, None]
    channels = stored.shape[2]
    if channels == 1:  # grey: the same value in R, G and B
        colour = np.broadcast_to(stored, (*stored.shape[:2], 3))
    elif channels in (3, 4):
        colour = stored[:, :, 2::-1] if bgr else stored[:, :, :3]
    else:
        raise InputError(f"{name}: unsupported {channels}-channel image")

    orient = _ORIENT[exif.orientation]
    rgb = orient(colour).astype(np.float32, order="C")
    rgb /= full_scale
    alpha = None
    if channels == 4:
        alpha = orient(stored[:, :, 3]).astype(np.float32, order="C")
        alpha /= full_scale
        if premultiplied:  # straight colour, as a PNG stores it; where alpha is 0, as stored
            np.divide(rgb, alpha[:, :, None], out=rgb, where=alpha[:, :, None] > 0)
            np.minimum(rgb, 1.0, out=rgb)
    if profile is None or profile.is_srgb:
        return LdrImage(rgb=rgb, alpha=alpha, bit_depth=bit_depth, capture=dict(exif.capture),
                        orientation=exif.orientation)
    return LdrImage(rgb=profile.to_srgb_encoding(rgb), alpha=alpha, bit_depth=bit_depth, profile=profile,
                    capture=dict(exif.capture), orientation=exif.orientation)


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


class _LockedStderr:
    """``sys.stderr`` for the CLI's consoles: each write waits while another thread is inside
    :func:`native_stderr_captured`, so a message printed meanwhile (a batch's "failed: ..." line,
    a progress refresh, "interrupted") reaches the user instead of a decoder's capture file.
    """

    @staticmethod
    def _stream():
        stream = sys.stderr  # looked up each time: tests and rich's Live swap it
        return getattr(stream, "rich_proxied_file", stream)

    def write(self, text: str) -> int:
        with _STDERR_LOCK:
            stream = self._stream()
            written = stream.write(text)
            stream.flush()
            return written

    def flush(self) -> None:
        with _STDERR_LOCK:
            self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()

    def fileno(self) -> int:
        return self._stream().fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream(), "encoding", "utf-8")


locked_stderr = _LockedStderr()


def _corrupt(name: str, kind: str) -> InputError:
    """`kind`: "JPEG", "PNG", "TIFF", "HEIF" or "WebP", from the file's signature (a cut-off photo
    is still a JPEG)."""
    return InputError(f"{name}: truncated or corrupt {kind} (its data ends early or does not decode)")


def _png_header(data: bytes, name: str) -> _Header:
    """Size from IHDR, orientation from an eXIf chunk and the colour profile from iCCP, after
    checking every chunk fits.

    The chunk check matters: OpenCV's PNG reader allocates whatever a chunk's length field
    claims, so a flipped bit there would cost gigabytes and seconds before failing.
    """
    if data[8:16] != b"\x00\x00\x00\x0dIHDR" or len(data) < 33:
        raise _corrupt(name, "PNG")
    width, height = struct.unpack(">II", data[16:24])
    exif = Exif()
    icc = b""
    transfer = None
    pos = 8
    while True:
        if pos + 12 > len(data):  # ran out before IEND
            raise _corrupt(name, "PNG")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):  # length, type, data, CRC
            raise _corrupt(name, "PNG")
        if kind == b"eXIf":
            tiff = data[pos + 8 : pos + 8 + length]
            exif = parse_exif(tiff.removeprefix(b"Exif\0\0"))
        elif kind == b"iCCP":
            icc = _png_icc(data[pos + 8 : pos + 8 + length])
        elif kind == b"cICP" and length == 4:  # primaries, transfer, matrix, full range (PNG 3rd edition)
            transfer = data[pos + 9]
        elif kind == b"IEND":
            return _Header(width, height, exif, icc=icc, transfer=transfer)
        pos += 12 + length


def _tiff_header(data: bytes, name: str) -> _Header:
    """Size, layout and colour profile from the first IFD (tiff.py); orientation and exposure
    settings from it and its Exif IFD, as for a JPEG's EXIF (which has the same structure)."""
    with _named_errors(name, "TIFF"):
        layout = tiff_layout(data)
    return _Header(layout.width, layout.height, parse_exif(data), layout.most_pixels, layout.repairs, layout.icc,
                   (layout.bit_depth, layout.channels), layout.premultiplied)


def _webp_header(data: bytes, name: str) -> _Header:
    """Size, colour profile and EXIF from the RIFF chunks (webp.py); orientation and exposure
    settings from the EXIF chunk, as for a PNG's eXIf."""
    with _named_errors(name, "WebP"):
        layout = webp_layout(data)
    return _Header(layout.width, layout.height, parse_exif(layout.exif), icc=layout.icc)


@contextmanager
def _named_errors(name: str, kind: str) -> Iterator[None]:
    """A format module's verdicts (io/refusals.py) as one-line InputErrors naming the file: Damaged as
    the corrupt-file error, Refused as what it says the file is."""
    try:
        yield
    except Damaged:
        raise _corrupt(name, kind) from None
    except Refused as exc:
        raise InputError(f"{name}: {exc}") from None


def _jpeg_header(data: bytes, name: str) -> _Header:
    """Walk the JPEG markers up to the first scan: size from SOFn, orientation from APP1 Exif,
    the colour profile from APP2.

    Also refuses files with no end-of-image marker after the scan starts: libjpeg "decodes" those
    by filling the missing part with grey, which would silently produce a wrong HDR image.
    """
    size: tuple[int, int] | None = None
    sampling: dict[int, tuple[int, int]] = {}  # component id -> (horizontal, vertical) factors
    restart_interval = 0
    arithmetic = False
    exif = Exif()
    seen_exif = False
    icc_pieces: dict[int, bytes] = {}  # sequence number -> piece
    repairs: list[Repair] = []  # the walker adds stray bytes between segments: libjpeg skips them too
    adobe_transform_at = -1
    sof = 0
    try:
        for marker, start, end in header_segments(data, repairs):
            if marker == JPEG_SOS:
                break
            if marker == _JPEG_EOI:  # image ends before any scan
                raise _corrupt(name, "JPEG")
            payload = start + 4
            segment = data[payload:end]
            if marker in JPEG_SOF and size is None:
                if len(segment) < 6:
                    raise _corrupt(name, "JPEG")
                precision, height, width = struct.unpack(">BHH", segment[:5])
                if precision != 8:
                    raise InputError(f"{name}: {precision}-bit JPEG is not supported")
                size, sof = (width, height), marker
                arithmetic = marker in _JPEG_ARITHMETIC_SOF
                for i in range(6, min(len(segment), 6 + 3 * segment[5]) - 2, 3):
                    sampling[segment[i]] = (segment[i + 1] >> 4, segment[i + 1] & 15)
            elif marker == _JPEG_DRI and len(segment) >= 2:
                (restart_interval,) = struct.unpack(">H", segment[:2])
            elif marker == _JPEG_APP0 and len(segment) >= 14 and segment.startswith(b"JFIF\0") and segment[5] not in (1, 2):
                repairs.append((payload + 5, payload + 6, b"\x01"))  # unknown JFIF major version -> 1
            elif marker == _JPEG_APP14 and len(segment) >= 12 and segment.startswith(b"Adobe") and segment[11] > 2:
                adobe_transform_at = payload + 11
            elif marker == _JPEG_APP1 and not seen_exif and segment.startswith(b"Exif\0\0"):
                seen_exif = True
                exif = parse_exif(segment[6:])
            elif marker == _JPEG_APP2 and segment.startswith(_JPEG_ICC) and len(segment) > len(_JPEG_ICC) + 2:
                icc_pieces.setdefault(segment[len(_JPEG_ICC)], segment[len(_JPEG_ICC) + 2 :])
    except DamagedJpegHeader:
        raise _corrupt(name, "JPEG") from None

    # the walker ends with the first scan's SOS segment
    payload = start + 4
    sos = data[payload:end]
    # 0xFF 0xD9 cannot occur inside entropy-coded data (0xFF is stuffed as 0xFF00).
    if size is None or data.find(b"\xff\xd9", start + 2) < 0:
        raise _corrupt(name, "JPEG")
    if restart_interval and _missing_restarts(data, end, sos, size, sampling, restart_interval):
        raise _corrupt(name, "JPEG")
    ns = sos[0] if sos else 0
    if sof in _JPEG_SEQUENTIAL_SOF and len(sos) >= 4 + 2 * ns and sos[1 + 2 * ns : 4 + 2 * ns] != b"\x00\x3f\x00":
        repairs.append((payload + 1 + 2 * ns, payload + 4 + 2 * ns, b"\x00\x3f\x00"))  # Ss, Se, Ah/Al
    if adobe_transform_at >= 0 and len(sampling) in (3, 4):
        # what libjpeg assumes for an unknown transform: YCbCr (3 components), YCCK (4)
        repairs.append((adobe_transform_at, adobe_transform_at + 1, b"\x01" if len(sampling) == 3 else b"\x02"))
    most_pixels = 0 if arithmetic else len(data) * _JPEG_MIN_PIXELS_PER_BYTE
    numbers = range(1, len(icc_pieces) + 1)  # pieces count from 1; with one missing there is no profile
    icc = b"".join(icc_pieces[i] for i in numbers) if icc_pieces.keys() == set(numbers) else b""
    return _Header(size[0], size[1], exif, most_pixels, tuple(sorted(repairs)), icc)


def _png_icc(chunk: bytes) -> bytes:
    """The profile inside an iCCP chunk (name, NUL, method 0, zlib data); b"" if unusable."""
    _, nul, rest = chunk.partition(b"\0")
    if not nul or rest[:1] != b"\0":
        return b""
    inflate = zlib.decompressobj()
    try:
        profile = inflate.decompress(rest[1:], _MAX_ICC_BYTES)
    except zlib.error:
        return b""
    return b"" if inflate.unconsumed_tail else profile


def _missing_restarts(data: bytes, start: int, sos: bytes, size: tuple[int, int],
                      sampling: dict[int, tuple[int, int]], interval: int) -> bool:
    """Whether the first scan has fewer restart markers than its MCU count needs.

    When data is missing, libjpeg skips ahead to the next restart marker (or the end) and fills the
    gap with grey; its warning may not even be printed (only the first one is). Counting the
    markers sees the loss directly. Malformed headers are left to libjpeg (False).
    """
    if not sos or not sampling or any(not (1 <= h <= 4 and 1 <= v <= 4) for h, v in sampling.values()):
        return False
    ids = sos[1 : 1 + 2 * sos[0] : 2]
    if len(ids) != sos[0] or any(c not in sampling for c in ids):
        return False
    width, height = size
    h_max = max(h for h, _ in sampling.values())
    v_max = max(v for _, v in sampling.values())
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    if len(ids) == 1:  # non-interleaved: one block per MCU, over the component's own size
        h, v = sampling[ids[0]]
        mcus = ceil(ceil(width * h, h_max), 8) * ceil(ceil(height * v, v_max), 8)
    else:
        mcus = ceil(width, 8 * h_max) * ceil(height, 8 * v_max)
    end = JPEG_MARKER_NOT_RST.search(data, start)
    found = len(_JPEG_RST.findall(data, start, end.start() if end else len(data)))
    return found < ceil(mcus, interval) - 1
