import random
import struct

import cv2
import numpy as np
import OpenEXR
import pytest
from typer.testing import CliRunner

from fhdr_cli.cli import app
from fhdr_cli.io.exif import Exif, parse_exif

CAPTURE = {"expTime": 1 / 250, "aperture": 2.8, "isoSpeed": 400.0, "capDate": "2024:05:01 18:22:10"}


def exif_tiff(order: str = "<", orientation: int = 6, exposure=(1, 250), f_number=(28, 10), iso: int = 400,
              date: bytes = b"2024:05:01 18:22:10\0", exif_pointer: int | None = None) -> bytes:
    """TIFF header, IFD0 (orientation, pointer to the Exif IFD), the Exif IFD, then its values."""
    magic = b"II*\0" if order == "<" else b"MM\0*"
    ifd0_entries = 2
    exif_ifd = 8 + 2 + 12 * ifd0_entries + 4
    values = exif_ifd + 2 + 12 * 4 + 4  # where the out-of-line values start
    pack = lambda fmt, *v: struct.pack(order + fmt, *v)  # noqa: E731
    ifd0 = (pack("H", ifd0_entries) + pack("HHIH2x", 0x0112, 3, 1, orientation)
            + pack("HHII", 0x8769, 4, 1, exif_ifd if exif_pointer is None else exif_pointer) + pack("I", 0))
    exif = (pack("H", 4)
            + pack("HHII", 0x829A, 5, 1, values) + pack("HHII", 0x829D, 5, 1, values + 8)
            + pack("HHIH2x", 0x8827, 3, 1, iso) + pack("HHII", 0x9003, 2, len(date), values + 16) + pack("I", 0))
    data = pack("II", *exposure) + pack("II", *f_number) + date
    return magic + pack("I", 8) + ifd0 + exif + data


@pytest.mark.parametrize("order", ["<", ">"])
def test_orientation_and_capture_settings_in_both_byte_orders(order):
    exif = parse_exif(exif_tiff(order))
    assert exif.orientation == 6
    assert exif.capture == pytest.approx(CAPTURE)


@pytest.mark.parametrize("damage, lost", [
    (dict(exposure=(1, 0)), "expTime"),  # zero denominator
    (dict(exposure=(7200, 1)), "expTime"),  # two hours: not a shutter speed
    (dict(f_number=(0, 1)), "aperture"),
    (dict(iso=0), "isoSpeed"),
    (dict(date=b"yesterday, 6pm\0"), "capDate"),
])
def test_implausible_values_are_dropped_alone(damage, lost):
    exif = parse_exif(exif_tiff(**damage))
    assert exif.orientation == 6 and set(exif.capture) == set(CAPTURE) - {lost}


def test_a_value_list_too_long_to_stand_inline_is_read_at_its_offset():
    tiff = exif_tiff()
    iso_entry = tiff.index(struct.pack("<HHI", 0x8827, 3, 1))
    values_at = len(tiff)  # three ISO values (6 bytes) do not fit in the entry: they go after the data
    tiff = (tiff[:iso_entry] + struct.pack("<HHII", 0x8827, 3, 3, values_at) + tiff[iso_entry + 12 :]
            + struct.pack("<HHH", 800, 800, 800))
    assert parse_exif(tiff).capture["isoSpeed"] == 800


def test_broken_structures_give_what_is_known():
    assert parse_exif(exif_tiff(exif_pointer=10_000)) == Exif(6, {})  # Exif IFD outside the data
    assert parse_exif(exif_tiff(orientation=9)).orientation == 1
    assert parse_exif(b"not exif at all") == Exif()
    assert parse_exif(exif_tiff()[:20]) == Exif()


def test_mutated_exif_never_raises():
    good, rnd = exif_tiff(), random.Random(11)
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            data = data[: rnd.randrange(len(data))]
        exif = parse_exif(bytes(data))
        assert 1 <= exif.orientation <= 8 and set(exif.capture) <= set(CAPTURE)


def test_convert_writes_the_capture_settings_as_exr_attributes(tmp_path, weights_file, photo):
    jpeg = cv2.imencode(".jpg", photo)[1].tobytes()
    src = tmp_path / "shot.jpg"
    src.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", 8 + len(exif_tiff())) + b"Exif\0\0" + exif_tiff() + jpeg[2:])
    result = CliRunner().invoke(app, ["convert", str(src), "-n", "1", "--weights", str(weights_file)])
    assert result.exit_code == 0, result.output
    header = OpenEXR.File(str(tmp_path / "shot.exr")).header()
    assert {k: header[k] for k in CAPTURE} == pytest.approx(CAPTURE)
    assert np.shape(OpenEXR.File(str(tmp_path / "shot.exr")).channels()["RGB"].pixels)[:2] == photo.shape[1::-1]  # turned
