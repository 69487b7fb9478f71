"""TIFF input: what reads exactly, what is refused with one line, what damage is caught.

Files come from OpenCV's writer (compressions) or from tiff_files.tiff_file, byte by byte (the tags
OpenCV cannot write: orientation, ICC profile, EXIF, kinds of alpha, separate planes, float).
"""

from __future__ import annotations

import struct
import time
import zlib

import cv2
import numpy as np
import pytest

from conftest import encode, with_icc_png
from icc_profiles import P3_TO_REC709, p3_profile
from tiff_files import (
    ASCII, ASSOCIATED, CIELAB, CMYK, DEFLATE, JPEG, LONG, NONE, PACKBITS, PALETTE, SHORT, WHITE_IS_ZERO, YCBCR,
    exif_capture, tiff_file,
)

from fhdr_cli.errors import InputError
from fhdr_cli.io.photo import LDR_EXTENSIONS, as_shot, decode_ldr, read_ldr

RNG = np.random.default_rng(11)
RGB8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
RGB16 = RNG.integers(0, 65536, (5, 7, 3), dtype=np.uint16)


def _refused(data: bytes, name: str, match: str) -> str:
    with pytest.raises(InputError, match=match) as info:
        decode_ldr(data, name)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    return message


def _values(image, depth: int) -> np.ndarray:
    """The decoded colour back as the integers the file stored."""
    return np.round(image.rgb * (2**depth - 1)).astype(np.int64)


# ---------------------------------------------------------------- what reads exactly


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("rgb", [RGB8, RGB16], ids=["8bit", "16bit"])
def test_rgb_round_trip_is_exact(rgb, order):
    depth = 8 * rgb.dtype.itemsize
    image = decode_ldr(tiff_file(rgb, order=order), "a.tif")
    assert image.rgb.dtype == np.float32 and image.rgb.shape == (5, 7, 3)
    assert image.bit_depth == depth and image.alpha is None and image.orientation == 1
    np.testing.assert_array_equal(image.rgb, rgb.astype(np.float32) / (2**depth - 1))


@pytest.mark.parametrize("compression", [cv2.IMWRITE_TIFF_COMPRESSION_NONE, cv2.IMWRITE_TIFF_COMPRESSION_LZW,
                                         cv2.IMWRITE_TIFF_COMPRESSION_DEFLATE, cv2.IMWRITE_TIFF_COMPRESSION_PACKBITS])
@pytest.mark.parametrize("rgb", [RGB8, RGB16], ids=["8bit", "16bit"])
def test_opencv_written_compressions_are_exact(rgb, compression):
    data = encode(".tiff", rgb[:, :, ::-1], cv2.IMWRITE_TIFF_COMPRESSION, compression)
    assert data[:4] in (b"II*\0", b"MM\0*")
    np.testing.assert_array_equal(_values(decode_ldr(data, "c.tif"), 8 * rgb.dtype.itemsize), rgb)


@pytest.mark.parametrize("compression", [DEFLATE, PACKBITS])
def test_handmade_compressed_strips_and_separate_planes(compression):
    for planar in (False, True):  # 8-bit planes go through libtiff's RGBA reader, which handles them
        data = tiff_file(RGB8, compression=compression, rows_per_strip=2, planar=planar)
        np.testing.assert_array_equal(_values(decode_ldr(data, "p.tif"), 8), RGB8)


@pytest.mark.parametrize("rgb", [RGB8, RGB16], ids=["8bit", "16bit"])
def test_tiled(rgb):
    pixels = np.tile(rgb, (8, 8, 1))  # 40 x 56
    for compression, tile in ((NONE, (32, 32)), (DEFLATE, (16, 48))):  # whole tiles decoded, then cut
        data = tiff_file(pixels, compression=compression, tile=tile)
        np.testing.assert_array_equal(_values(decode_ldr(data, "t.tif"), 8 * rgb.itemsize), pixels)


def test_jpeg_compressed_tiffs():
    # Photoshop's "JPEG" TIFF: YCbCr, subsampled, one JPEG stream per strip; pixels as libjpeg decodes them.
    photo = RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    jpeg = encode(".jpg", photo)
    data = tiff_file(np.zeros((32, 48, 3), np.uint8), photometric=YCBCR, compression=JPEG, strips=[jpeg],
                     tags={530: (SHORT, [2, 2])})
    plain = decode_ldr(jpeg, "plain.jpg")
    np.testing.assert_array_equal(decode_ldr(data, "j.tif").rgb, plain.rgb)
    # OpenCV's own, RGB compressed as is
    data = encode(".tiff", photo, cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_JPEG,
                  cv2.IMWRITE_TIFF_ROWSPERSTRIP, 16)
    assert np.abs(_values(decode_ldr(data, "j.tif"), 8) - photo[:, :, ::-1]).mean() < 8


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_becomes_rgb(dtype):
    grey = RNG.integers(0, np.iinfo(dtype).max + 1, (4, 6), dtype=dtype)
    image = decode_ldr(tiff_file(grey), "g.tif")
    assert image.rgb.shape == (4, 6, 3) and image.bit_depth == 8 * grey.itemsize
    for c in range(3):
        np.testing.assert_array_equal(_values(image, 8 * grey.itemsize)[:, :, c], grey)


def test_white_is_zero_grey_is_inverted():
    grey = RNG.integers(0, 256, (4, 6), dtype=np.uint8)
    image = decode_ldr(tiff_file(grey, photometric=WHITE_IS_ZERO), "w.tif")
    np.testing.assert_array_equal(_values(image, 8)[:, :, 0], 255 - grey.astype(np.int64))


def test_palette():
    colour_map = np.zeros((3, 256), np.uint16)
    colour_map[0, 1] = colour_map[2, 2] = 65535  # index 1 red, index 2 blue
    indices = np.array([[0, 1, 2]], np.uint8)
    data = tiff_file(indices, photometric=PALETTE, tags={320: (SHORT, list(colour_map.ravel()))})
    image = decode_ldr(data, "p.tif")
    np.testing.assert_array_equal(image.rgb[0], [[0, 0, 0], [1, 0, 0], [0, 0, 1]])
    assert image.alpha is None and image.bit_depth == 8


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_rgba_keeps_straight_alpha_exactly(dtype):
    # libtiff multiplies 8-bit colour by unassociated alpha unless told otherwise: it must not here.
    rgba = RNG.integers(0, np.iinfo(dtype).max + 1, (5, 7, 4), dtype=dtype)
    image = decode_ldr(tiff_file(rgba), "a.tif")
    depth = 8 * rgba.itemsize
    np.testing.assert_array_equal(_values(image, depth), rgba[:, :, :3])
    assert image.alpha is not None and image.alpha.dtype == np.float32
    np.testing.assert_array_equal(np.round(image.alpha * (2**depth - 1)), rgba[:, :, 3])


def test_opencv_written_rgba_without_extra_samples_tag():
    bgra = RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    image = decode_ldr(encode(".tiff", bgra), "a.tif")
    np.testing.assert_array_equal(_values(image, 8), bgra[:, :, 2::-1])
    np.testing.assert_array_equal(np.round(image.alpha * 255), bgra[:, :, 3])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_associated_alpha_is_made_straight(dtype):
    top = np.iinfo(dtype).max
    rgba = np.array([[[top, top // 2, 0, top], [top // 4, top // 4, 0, top // 2], [0, 0, 0, 0]]], dtype)
    image = decode_ldr(tiff_file(rgba, extra_samples=(ASSOCIATED,)), "pre.tif")
    np.testing.assert_allclose(image.rgb[0, 0], [1, (top // 2) / top, 0], atol=1e-7)
    np.testing.assert_allclose(image.rgb[0, 1], [(top // 4) / (top // 2)] * 2 + [0], atol=1e-6)
    np.testing.assert_array_equal(image.rgb[0, 2], [0, 0, 0])  # no colour under alpha 0
    np.testing.assert_allclose(image.alpha[0], [1, (top // 2) / top, 0], atol=1e-7)


def test_multi_page_file_reads_its_first_page():
    first, second = np.full((4, 6, 3), 10, np.uint8), np.full((8, 8, 3), 200, np.uint8)
    ok, data = cv2.imencodemulti(".tiff", [first, second])
    assert ok
    image = decode_ldr(data.tobytes(), "pages.tif")
    assert image.rgb.shape == (4, 6, 3) and np.all(_values(image, 8) == 10)


# ---------------------------------------------------------------- orientation, profile, EXIF

# Where the stored top-left and top-right corners end up for each orientation (as in test_read).
_MOVES = {1: ("TL", "TR"), 2: ("TR", "TL"), 3: ("BR", "BL"), 4: ("BL", "BR"),
          5: ("TL", "BL"), 6: ("TR", "BR"), 7: ("BR", "TR"), 8: ("BL", "TL")}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_once(orientation, dtype):
    # OpenCV turns TIFFs by this tag itself; the reader turns them, so OpenCV must not as well.
    stored = np.full((6, 10, 3), 100, dtype)
    stored[0, 0], stored[0, -1] = 20, 230
    image = decode_ldr(tiff_file(stored, orientation=orientation, order=">"), "o.tif")
    assert image.orientation == orientation and image.rgb.flags.c_contiguous
    assert image.rgb.shape == ((6, 10, 3) if orientation <= 4 else (10, 6, 3))
    np.testing.assert_array_equal(_values(image, 8 * stored.itemsize), as_shot(stored, orientation))
    dark, light = _MOVES[orientation]
    values = _values(image, 8 * stored.itemsize)[:, :, 0]
    corners = {"TL": values[0, 0], "TR": values[0, -1], "BL": values[-1, 0], "BR": values[-1, -1]}
    assert (corners[dark], corners[light]) == (20, 230)


def test_orientation_six_turns_alpha_too():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red at the stored top-left
    image = decode_ldr(tiff_file(rgba, orientation=6), "o.tif")
    assert image.rgb.shape == (3, 2, 3) and image.alpha.shape == (3, 2)
    np.testing.assert_array_equal(image.rgb[0, 1], [1, 0, 0])
    assert image.alpha[0, 1] == 1 and image.alpha.sum() == 1


def test_display_p3_profile_is_applied_as_for_png():
    png = decode_ldr(with_icc_png(encode(".png", RGB8[:, :, ::-1]), p3_profile()), "p3.png")
    tiff = decode_ldr(tiff_file(RGB8, icc=p3_profile()), "p3.tif")
    assert "Display P3" in tiff.profile.description
    np.testing.assert_array_equal(tiff.rgb, png.rgb)
    np.testing.assert_allclose(tiff.rgb_to_rec709, P3_TO_REC709, atol=3e-3)


def test_unusable_profile_reads_as_srgb():
    plain = decode_ldr(tiff_file(RGB8), "a.tif").rgb
    for icc in (b"not a profile at all", p3_profile()[:100]):
        image = decode_ldr(tiff_file(RGB8, icc=icc), "x.tif")
        assert image.profile is None and np.array_equal(image.rgb, plain)
    # a profile pointing outside the file: ignored, as libtiff does
    data = tiff_file(RGB8, tags={34675: (7, b"x" * 40)})
    at = data.index(struct.pack("<HHI", 34675, 7, 40))
    data = data[: at + 8] + struct.pack("<I", 1 << 30) + data[at + 12 :]
    assert decode_ldr(data, "far.tif").profile is None


@pytest.mark.parametrize("order", ["<", ">"])
def test_exif_exposure_settings_are_kept(order):
    image = decode_ldr(tiff_file(RGB8, order=order, orientation=8, exif=exif_capture()), "shot.tif")
    assert image.capture == pytest.approx({"expTime": 1 / 250, "aperture": 2.8, "isoSpeed": 400.0,
                                           "capDate": "2024:05:01 18:22:10"})
    assert image.orientation == 8 and image.rgb.shape == (7, 5, 3)


# ---------------------------------------------------------------- refused with one line


def test_float_tiff_is_refused_as_hdr_already():
    data = tiff_file(RNG.random((4, 4, 3)).astype(np.float32))
    message = _refused(data, "render.tif", "floating-point TIFF")
    assert "HDR" in message and "not take as input" in message
    _refused(encode(".tiff", RNG.random((4, 4, 3)).astype(np.float32)), "cv.tif", "floating-point TIFF")


@pytest.mark.parametrize("data, match", [
    (tiff_file(RNG.integers(0, 256, (4, 4, 4), dtype=np.uint8), photometric=CMYK, extra_samples=()), "CMYK TIFF"),
    (tiff_file(RGB8, photometric=CIELAB), "Lab TIFF"),
    (tiff_file(RGB8, photometric=32845), "floating-point TIFF"),  # LogLuv
    (tiff_file(RGB8, photometric=4), "colour model 4"),
    (tiff_file(RNG.integers(0, 256, (4, 4, 2), dtype=np.uint8)), "grey \\+ alpha TIFF"),
    (tiff_file(RNG.integers(0, 65536, (4, 4, 2), dtype=np.uint16)), "grey \\+ alpha TIFF"),
    (tiff_file(RGB16, planar=True), "16-bit TIFF with separate colour planes"),
    (tiff_file(RGB16[:, :, 0], photometric=WHITE_IS_ZERO), "16-bit white-is-zero grey TIFF"),
    (tiff_file(RGB8.astype(np.uint32)), "32-bit TIFF is not supported"),
    (tiff_file(RGB8, tags={258: (SHORT, [1])}), "1-bit TIFF"),
    (tiff_file(RGB8, tags={258: (SHORT, [8, 16, 8])}), "different bit depths"),
    (tiff_file(RGB8, tags={339: (SHORT, [2, 2, 2])}), "sample format 2"),
    (tiff_file(RGB8, tags={259: (SHORT, [50000])}), "compression Zstandard is not supported"),
    (tiff_file(RGB8, tags={259: (SHORT, [6])}), "compression old-style JPEG"),
    (tiff_file(RNG.integers(0, 256, (4, 4, 5), dtype=np.uint8), extra_samples=(2, 0)), "RGB TIFF with 5 channels"),
    (b"II+\0" + bytes(100), "BigTIFF is not supported"),
    (b"MM\0+" + bytes(100), "BigTIFF is not supported"),
])
def test_layouts_opencv_would_misread_are_refused(data, match):
    _refused(data, "x.tif", match)


# ---------------------------------------------------------------- broken input


def test_truncated_and_garbage_tiffs_are_one_line_errors():
    data = tiff_file(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8), compression=DEFLATE, rows_per_strip=4)
    for cut in (4, 9, 30, len(data) // 2, len(data) - 8):
        _refused(data[:cut], "cut.tif", "truncated or corrupt TIFF")
    noise = RNG.integers(0, 256, 2048, dtype=np.uint8).tobytes()
    for magic in (b"II*\0", b"MM\0*"):
        _refused(magic + noise, "noise.tif", "truncated or corrupt TIFF")
    _refused(b"II*\0" + struct.pack("<I", 1 << 30), "far.tif", "truncated or corrupt TIFF")  # IFD outside
    no_width = tiff_file(RGB8, tags={256: None})
    _refused(no_width, "w.tif", "truncated or corrupt TIFF")
    _refused(tiff_file(RGB8, tags={256: (ASCII, b"wide\0")}), "t.tif", "truncated or corrupt TIFF")


@pytest.mark.parametrize("silenced", [False, True])
def test_a_strip_that_does_not_decode_is_caught(silenced):
    # libtiff's 8-bit reader logs the bad strip and returns the image without it; the log line is
    # the only sign, so it must be seen even when the user has silenced OpenCV's log.
    pixels = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    strips = [zlib.compress(pixels[y : y + 8].tobytes()) for y in range(0, 64, 8)]
    strips[3] = strips[3][: len(strips[3]) // 2]
    data = tiff_file(pixels, compression=DEFLATE, rows_per_strip=8, strips=strips)
    level = cv2.utils.logging.getLogLevel()
    try:
        if silenced:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        _refused(data, "strip.tif", "truncated or corrupt TIFF")
        assert cv2.utils.logging.getLogLevel() == (cv2.utils.logging.LOG_LEVEL_SILENT if silenced else level)
    finally:
        cv2.utils.logging.setLogLevel(level)


def test_damaged_jpeg_strip_is_caught():
    jpeg = encode(".jpg", RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = tiff_file(np.zeros((64, 64, 3), np.uint8), photometric=YCBCR, compression=JPEG,
                     strips=[jpeg[: len(jpeg) // 2] + b"\xff\xd9"], tags={530: (SHORT, [2, 2])})
    _refused(data, "cut.tif", "truncated or corrupt TIFF")


def test_library_chatter_stays_off_the_terminal(capfd):
    data = tiff_file(RGB8, compression=DEFLATE)
    for broken in (data[: len(data) - 20], tiff_file(RGB8, tags={259: (SHORT, [5])})):
        with pytest.raises(InputError):
            decode_ldr(broken, "broken.tif")
    decode_ldr(encode(".tiff", RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8)), "warns.tif")  # libtiff warns
    assert capfd.readouterr() == ("", "")


def test_huge_dimensions_are_refused_before_decoding(monkeypatch):
    def no_decoding(*args):
        raise AssertionError("decoded")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    start = time.perf_counter()
    _refused(tiff_file(RGB8, tags={256: (LONG, [100_000]), 257: (LONG, [100_000])}), "bomb.tif", "100000x100000")
    # under the pixel limit, but far more pixels than a few hundred bytes can hold
    _refused(tiff_file(RGB8, compression=DEFLATE, tags={256: (LONG, [15_000]), 257: (LONG, [15_000])}),
             "small.tif", "truncated or corrupt TIFF")
    # a tiny image in gigantic tiles: libtiff would allocate and decode a whole tile
    _refused(tiff_file(RGB8, tile=(16, 16), tags={322: (LONG, [8192]), 323: (LONG, [8192])}), "tiles.tif",
             "truncated or corrupt")
    assert time.perf_counter() - start < 0.5
    monkeypatch.undo()
    with pytest.raises(InputError, match="limit"):
        decode_ldr(tiff_file(RGB8), "a.tif", max_pixels=34)
    assert decode_ldr(tiff_file(RGB8), "a.tif", max_pixels=35).rgb.shape == (5, 7, 3)


def test_a_decoded_layout_other_than_the_header_says_is_refused(monkeypatch):
    # Should libtiff ever read the tags otherwise than the header parser (say, CMYK where the
    # parser saw RGB), its pixels are not used.
    decode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *args: np.dstack([decode(*args), decode(*args)[:, :, :1]]))
    _refused(tiff_file(RGB8), "four.tif", "truncated or corrupt TIFF")
    monkeypatch.setattr(cv2, "imdecode", lambda *args: decode(*args).astype(np.uint16))
    _refused(tiff_file(RGB8), "deep.tif", "truncated or corrupt TIFF")


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("name", ["scan.tif", "PLATE.TIFF", "mixed.Tif"])
def test_tif_and_tiff_files_are_read(tmp_path, name):
    assert {".tif", ".tiff"} <= set(LDR_EXTENSIONS)
    path = tmp_path / name
    path.write_bytes(tiff_file(RGB16))
    assert read_ldr(path).bit_depth == 16
