"""Walk a JPEG's header segments, from SOI to the first scan: the one walker for the photo reader
(io/photo.py) and the Ultra HDR writer (io/ultrahdr.py).

They differ only in what they make of bytes between segments that are not a marker. libjpeg skips
them with a warning, and so does the reader, in its lenient mode, recording them as repairs to drop
from the copy it decodes. The writer copies the photo's segments into its file, which must keep the
photo byte for byte, so in its strict mode they make the header damaged.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

JPEG_SOS = 0xDA  # start of scan: the header ends with this segment
# Start of frame (SOF0-15 less DHT, JPG and DAC, which share the range): image size, precision, components.
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field: TEM and RST0-7.
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})

Repair = tuple[int, int, bytes]  # (start, end, new bytes): what replaces data[start:end] in the copy decoded


class DamagedJpegHeader(ValueError):
    """Not a JPEG, a marker or segment that runs past the data, or (strict) stray bytes."""


class JpegSegment(NamedTuple):
    marker: int
    start: int  # the 0xFF right before the marker (fill bytes before it are not part of the segment)
    end: int  # one past the segment; its payload starts at start + 4, after the length field


def header_segments(data: bytes, repairs: list[Repair] | None = None) -> Iterator[JpegSegment]:
    """Every segment with a length field, in order, up to and including the first SOS; the markers
    that stand alone and fill bytes are skipped. DamagedJpegHeader where the header is damaged.

    Strict without `repairs`: stray bytes where a marker should be are damage. Lenient with it:
    they are skipped and appended there as deletions, as each segment is reached.

    Lazily, so a reader's complaint about one segment comes before damage further on; take list()
    of it to have the whole header checked before using any of it.
    """
    if not data.startswith(b"\xff\xd8"):
        raise DamagedJpegHeader("not a JPEG")
    pos = 2
    while True:
        stray_start = pos
        while pos < len(data) and data[pos] != 0xFF:
            pos += 1
        if pos > stray_start:
            if repairs is None:
                raise DamagedJpegHeader("damaged JPEG header")
            repairs.append((stray_start, pos, b""))
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos + 3 > len(data):  # no room for the marker and a length field
            raise DamagedJpegHeader("damaged JPEG header")
        marker = data[pos]
        pos += 1
        if marker in _NO_LENGTH:
            continue
        (length,) = struct.unpack_from(">H", data, pos)  # counts itself, not the marker
        if length < 2 or pos + length > len(data):
            raise DamagedJpegHeader("damaged JPEG header")
        yield JpegSegment(marker, pos - 2, pos + length)
        if marker == JPEG_SOS:
            return
        pos += length
