"""The JPEG header walker behind both the photo reader (lenient: stray bytes skipped and recorded) and
the Ultra HDR writer (strict: every byte it copies is part of a segment)."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from conftest import encode
from fhdr_cli.errors import InputError
from fhdr_cli.io.jpeg_markers import DamagedJpegHeader, JpegSegment, header_segments
from fhdr_cli.io.photo import decode_ldr

STRAY = b"\x00\x12\x34"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    """A progressive JPEG (SOS segments after the first scan, which the walk must not reach) with an
    APP1 segment after cv2's JFIF APP0."""
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    data = encode(".jpg", pixels, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:app0_end] + _segment(0xE1, b"Exif\0\0") + data[app0_end:]


def _app0_end(jpeg: bytes) -> int:
    return 4 + struct.unpack(">H", jpeg[4:6])[0]


def _first_scan_end(jpeg: bytes) -> int:
    sos = jpeg.index(b"\xff\xda")
    return sos + 2 + struct.unpack(">H", jpeg[sos + 2 : sos + 4])[0]


def test_strict_segments_hold_the_header_byte_for_byte_and_stop_at_the_first_scan(jpeg):
    segments = list(header_segments(jpeg))
    app0_end = _app0_end(jpeg)
    assert segments[:2] == [JpegSegment(0xE0, 2, app0_end), JpegSegment(0xE1, app0_end, app0_end + 10)]
    assert [marker for marker, _, _ in segments].count(0xDA) == 1 and segments[-1].marker == 0xDA
    assert segments[-1].end == _first_scan_end(jpeg) < jpeg.rindex(b"\xff\xda")  # later scans: not walked
    assert jpeg[:2] + b"".join(jpeg[start:end] for _, start, end in segments) == jpeg[: segments[-1].end]
    repairs: list = []
    assert list(header_segments(jpeg, repairs)) == segments and repairs == []


def test_stray_bytes_are_damage_when_strict_and_a_recorded_deletion_when_lenient(jpeg):
    app0_end = _app0_end(jpeg)
    stray = jpeg[:app0_end] + STRAY + jpeg[app0_end:]
    with pytest.raises(ValueError, match="^damaged JPEG header$"):  # what the Ultra HDR writer catches
        list(header_segments(stray))
    repairs: list = []
    lenient = list(header_segments(stray, repairs))
    assert repairs == [(app0_end, app0_end + len(STRAY), b"")]
    clean = list(header_segments(jpeg))
    assert lenient == clean[:1] + [segment._replace(start=segment.start + 3, end=segment.end + 3) for segment in clean[1:]]


@pytest.mark.parametrize("repairs", [None, []], ids=["strict", "lenient"])
def test_fill_bytes_and_markers_without_a_length_are_skipped(jpeg, repairs):
    app0_end = _app0_end(jpeg)
    filled = jpeg[:app0_end] + b"\xff\xff\xff\xd0\xff\x01\xff\xff" + jpeg[app0_end:]  # fill, RST0, TEM, fill
    segments = list(header_segments(filled, repairs))
    assert segments[1] == JpegSegment(0xE1, app0_end + 8, app0_end + 18)  # starts at the 0xFF before its marker
    assert repairs in (None, [])


@pytest.mark.parametrize("repairs", [None, []], ids=["strict", "lenient"])
def test_a_header_cut_anywhere_or_with_a_bad_length_is_damaged(jpeg, repairs):
    header_end = _first_scan_end(jpeg)
    assert list(header_segments(jpeg[:header_end], repairs))[-1].end == header_end  # the scan data is not needed
    for cut in range(header_end):
        with pytest.raises(DamagedJpegHeader):
            list(header_segments(jpeg[:cut], repairs))
    app0_end = _app0_end(jpeg)
    for length in (0, 1, len(jpeg)):
        bad = jpeg[: app0_end + 2] + struct.pack(">H", length) + jpeg[app0_end + 4 :]
        with pytest.raises(DamagedJpegHeader, match="^damaged JPEG header$"):
            list(header_segments(bad, repairs))


def test_segments_come_one_at_a_time_so_the_reader_names_the_first_problem(jpeg):
    """A 12-bit frame with damage further on is refused for its precision, as before the walker was
    shared: the reader sees the frame before the walker reaches the damage."""
    sof = jpeg.index(b"\xff\xc2")
    sof_end = sof + 2 + struct.unpack(">H", jpeg[sof + 2 : sof + 4])[0]
    twelve_bit = jpeg[: sof + 4] + b"\x0c" + jpeg[sof + 5 : sof_end] + b"\xff\xc4\x00"  # then a DHT cut short
    walked = []
    with pytest.raises(DamagedJpegHeader):
        for segment in header_segments(twelve_bit, []):
            walked.append(segment.marker)
    assert walked[-1] == 0xC2  # the frame came out before the walker found the damage
    with pytest.raises(InputError, match=r"^x\.jpg: 12-bit JPEG is not supported$"):
        decode_ldr(twelve_bit, "x.jpg")
