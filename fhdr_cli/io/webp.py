"""What a WebP photo holds, read from its RIFF container before OpenCV (libwebp) sees the bytes.

A WebP is 'RIFF', its size, 'WEBP', then chunks (a four-letter type, a little-endian length, the
payload, a pad byte to an even length). A simple file holds one 'VP8 ' (lossy) or 'VP8L' (lossless)
chunk; an extended one starts with 'VP8X' (flags and canvas size) and may add 'ICCP' (colour
profile), 'EXIF', 'XMP ', 'ALPH' (a lossy image's alpha) or, for animations, 'ANIM' and 'ANMF'.

The size comes from the image chunk's own header (VP8's key frame header, VP8L's 14-bit fields) and,
in an extended file, must equal the canvas's: libwebp refuses the file otherwise, and the reader
(io/photo.py) checks it against the pixel cap before anything is decoded. Every chunk length is
checked against the RIFF size and the RIFF size against the file; no value is read outside them.
Animated WebP is refused: a photo is one still picture, and which frame (composed how) to take
would be a guess. The ICC profile and EXIF are read as browsers read them, only when the 'VP8X'
flags say the file has them; OpenCV applies neither (nor EXIF orientation, when asked for the
pixels as stored), so the reader applies both as for a PNG. WebP has 8 bits per sample, and any
alpha is straight (not premultiplied).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from fhdr_cli.io.refusals import Damaged, Refused

_RIFF, _WEBP = b"RIFF", b"WEBP"
_VP8, _VP8L, _VP8X = b"VP8 ", b"VP8L", b"VP8X"
_ICCP, _EXIF, _ANIM, _ANMF = b"ICCP", b"EXIF", b"ANIM", b"ANMF"
_ICC_FLAG, _EXIF_FLAG, _ANIMATION_FLAG = 0x20, 0x08, 0x02  # VP8X flags
_VP8_START_CODE = b"\x9d\x01\x2a"
_VP8L_SIGNATURE = 0x2F


class WebpLayout(NamedTuple):
    width: int
    height: int
    icc: bytes  # the embedded ICC colour profile, if any
    exif: bytes  # the EXIF chunk's TIFF structure, if any


def is_webp(data: bytes) -> bool:
    """Whether the bytes start like a WebP: a RIFF container of type 'WEBP' (not WAV, AVI, ...)."""
    return data[:4] == _RIFF and data[8:12] == _WEBP


def webp_layout(data: bytes) -> WebpLayout:
    """Size, ICC profile and EXIF of a WebP (`is_webp`); Refused for animations, Damaged for
    a container or image header that is cut off or inconsistent."""
    (riff_size,) = struct.unpack_from("<I", data, 4)
    end = 8 + riff_size
    if riff_size < 12 or end > len(data):  # bytes after the RIFF are ignored, as libwebp does
        raise Damaged
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + length > end:
            raise Damaged
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    if not chunks:
        raise Damaged
    kinds = [kind for kind, _ in chunks]
    flags = 0
    canvas = None
    if kinds[0] == _VP8X:
        extended = chunks[0][1]
        if len(extended) < 10:
            raise Damaged
        flags = extended[0]
        canvas = (int.from_bytes(extended[4:7], "little") + 1, int.from_bytes(extended[7:10], "little") + 1)
    if flags & _ANIMATION_FLAG or _ANIM in kinds or _ANMF in kinds:
        raise Refused("animated WebP is not supported; save the frame you want as a still image")
    # libwebp decodes the first image chunk: the only chunk of a simple file, else the first after VP8X
    images = [(kind, payload) for kind, payload in chunks if kind in (_VP8, _VP8L)]
    if not images or (canvas is None and kinds[0] not in (_VP8, _VP8L)):
        raise Damaged
    width, height = _image_size(*images[0])
    if canvas is not None and canvas != (width, height):
        raise Damaged  # libwebp refuses it too
    icc = _first(chunks, _ICCP) if flags & _ICC_FLAG else b""
    exif = _first(chunks, _EXIF).removeprefix(b"Exif\0\0") if flags & _EXIF_FLAG else b""
    return WebpLayout(width, height, icc, exif)


def _first(chunks: list[tuple[bytes, bytes]], kind: bytes) -> bytes:
    return next((payload for k, payload in chunks if k == kind), b"")


def _image_size(kind: bytes, payload: bytes) -> tuple[int, int]:
    """Width and height from a 'VP8 ' key frame header or a 'VP8L' header."""
    if kind == _VP8:
        # frame tag (3 bytes: bit 0 clear on a key frame), start code, 14-bit width and height
        if len(payload) < 10 or payload[0] & 1 or payload[3:6] != _VP8_START_CODE:
            raise Damaged
        width, height = struct.unpack_from("<HH", payload, 6)
        return width & 0x3FFF, height & 0x3FFF
    # signature byte, then width - 1 and height - 1 (14 bits each), alpha hint, version 0 (3 bits)
    if len(payload) < 5 or payload[0] != _VP8L_SIGNATURE:
        raise Damaged
    (bits,) = struct.unpack_from("<I", payload, 1)
    if bits >> 29:
        raise Damaged
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
