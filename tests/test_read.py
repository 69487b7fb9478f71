import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from fhdr_cli.errors import InputError, UsageError
from conftest import encode, handmade_png, png_chunk, with_icc_png
from icc_profiles import (
    ADOBE_GAMMA, P3_TO_REC709, adobe_profile, build_profile, desc_tag, gamma_tag, p3_profile, pq_profile, srgb_encode,
    srgb_profile,
)
from heif_files import heif_file
from test_exif import exif_tiff
from tiff_files import DEFLATE, exif_capture, tiff_file
from fhdr_cli.io.photo import LDR_EXTENSIONS, decode_ldr, read_ldr

# ---------------------------------------------------------------- test-image builders


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _cmyk_jpeg(stored: np.ndarray) -> bytes:
    """A baseline 4-component (Adobe CMYK) JPEG; cv2 cannot write one.

    Every 8x8 block must be flat, so only DC coefficients are coded (each block: DC difference,
    then end-of-block), with quantisation 1 and the standard DC Huffman table.
    """
    height, width, _ = stored.shape
    dc_bits, dc_values = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12))
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(dc_bits[length - 1]):
            codes[dc_values[k]] = format(code, f"0{length}b")
            k += 1
            code += 1
        code <<= 1
    bits, previous = "", [0] * 4
    for y in range(0, height, 8):
        for x in range(0, width, 8):
            for c in range(4):
                dc = 8 * (int(stored[y, x, c]) - 128)
                diff, previous[c] = dc - previous[c], dc
                size = abs(diff).bit_length()
                bits += codes[size]
                if size:
                    bits += format(diff if diff >= 0 else diff + (1 << size) - 1, f"0{size}b")
                bits += "0"  # end of block: the only code of the one-entry AC table
    bits += "1" * (-len(bits) % 8)
    components = b"".join(bytes([i + 1, 0x11, 0]) for i in range(4))  # id, 1x1 sampling, table 0
    scan = bytearray()
    for i in range(0, len(bits), 8):
        scan.append(int(bits[i : i + 8], 2))
        if scan[-1] == 0xFF:
            scan.append(0)
    return (
        b"\xff\xd8"
        + _segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 0))  # transform 0: CMYK
        + _segment(0xDB, b"\x00" + bytes([1] * 64))
        + _segment(0xC0, struct.pack(">BHHB", 8, height, width, 4) + components)
        + _segment(0xC4, b"\x00" + bytes(dc_bits) + bytes(dc_values))
        + _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
        + _segment(0xDA, bytes([4]) + b"".join(bytes([i + 1, 0]) for i in range(4)) + bytes([0, 63, 0]))
        + bytes(scan)
        + b"\xff\xd9"
    )


def _tiff(orientation: int, order: str = "<", kind: int = 3) -> bytes:
    """EXIF TIFF data with one IFD0 entry: the orientation tag."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    entry = struct.pack(order + "HHIH2x", 0x0112, kind, 1, orientation)
    ifd = struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0)  # 1 entry, no next IFD
    return magic + struct.pack(order + "I", 8) + ifd


def _with_exif(jpeg: bytes, tiff: bytes) -> bytes:
    return jpeg[:2] + _segment(0xE1, b"Exif\x00\x00" + tiff) + jpeg[2:]


def _marked_grey(height: int = 16, width: int = 24) -> np.ndarray:
    """Grey picture with a dark top-left and a light top-right 8x8 block, for orientation tests."""
    pixels = np.full((height, width), 120, np.uint8)
    pixels[:8, :8] = 20
    pixels[:8, -8:] = 230
    return pixels


def _corners(rgb: np.ndarray) -> dict[str, float]:
    g = rgb[:, :, 1] * 255
    return {"TL": g[0, 0], "TR": g[0, -1], "BL": g[-1, 0], "BR": g[-1, -1]}


@pytest.fixture
def jpeg_bytes() -> bytes:
    rng = np.random.default_rng(0)
    return encode(".jpg", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))


@pytest.fixture
def png_bytes() -> bytes:
    rng = np.random.default_rng(1)
    return encode(".png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))


# ---------------------------------------------------------------- pixel formats


def test_8bit_png_is_rgb_in_unit_range(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    path.write_bytes(encode(".png", rgb[:, :, ::-1]))
    image = read_ldr(path)
    assert image.rgb.dtype == np.float32 and image.rgb.shape == (5, 7, 3)
    assert image.bit_depth == 8 and image.alpha is None
    np.testing.assert_array_equal(image.rgb, rgb.astype(np.float32) / 255)


def test_16bit_png_keeps_precision():
    rgb = np.random.default_rng(3).integers(0, 65536, (4, 3, 3), dtype=np.uint16)
    image = decode_ldr(encode(".png", rgb[:, :, ::-1]), "a.png")
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.rgb, rgb / 65535, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype,depth", [(np.uint8, 8), (np.uint16, 16)])
def test_grey_png_becomes_rgb(dtype, depth):
    grey = np.array([[0, 1], [2, 3]], dtype) * (np.iinfo(dtype).max // 3)
    image = decode_ldr(encode(".png", grey), "g.png")
    assert image.rgb.shape == (2, 2, 3) and image.bit_depth == depth
    for c in range(3):
        np.testing.assert_allclose(image.rgb[:, :, c], grey / np.iinfo(dtype).max, atol=1e-7)


def test_grey_jpeg_becomes_rgb():
    grey = np.full((8, 8), 100, np.uint8)
    image = decode_ldr(encode(".jpg", grey, cv2.IMWRITE_JPEG_QUALITY, 100), "g.jpg")
    assert image.rgb.shape == (8, 8, 3)
    np.testing.assert_allclose(image.rgb, 100 / 255, atol=2 / 255)


def test_rgba_png_keeps_alpha():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[..., 0], bgra[..., 2] = 200, 10  # blue 200, red 10
    bgra[..., 3] = [[0, 128, 255], [255, 255, 64]]
    image = decode_ldr(encode(".png", bgra), "a.png")
    assert image.alpha is not None and image.alpha.dtype == np.float32
    np.testing.assert_allclose(image.alpha, bgra[..., 3] / 255, atol=1e-7)
    np.testing.assert_allclose(image.rgb[0, 0], [10 / 255, 0, 200 / 255], atol=1e-7)


def test_grey_alpha_png():
    data = handmade_png(2, 1, 8, 4, [bytes([10, 200, 250, 100])])
    image = decode_ldr(data, "ga.png")
    np.testing.assert_allclose(image.rgb[0, 1], [250 / 255] * 3, atol=1e-7)
    np.testing.assert_allclose(image.alpha, [[200 / 255, 100 / 255]], atol=1e-7)


def test_palette_png():
    palette = bytes([255, 0, 0, 0, 0, 255])  # index 0 red, index 1 blue
    image = decode_ldr(handmade_png(2, 1, 8, 3, [bytes([1, 0])], [(b"PLTE", palette)]), "p.png")
    np.testing.assert_array_equal(image.rgb[0], [[0, 0, 1], [1, 0, 0]])
    assert image.alpha is None and image.bit_depth == 8


def test_palette_png_with_transparency():
    extra = [(b"PLTE", bytes([255, 0, 0, 0, 0, 255])), (b"tRNS", bytes([0]))]
    image = decode_ldr(handmade_png(2, 1, 8, 3, [bytes([0, 1])], extra), "p.png")
    np.testing.assert_array_equal(image.alpha, [[0, 1]])


def test_cmyk_jpeg_converted_to_rgb():
    # Adobe CMYK JPEGs store inverted ink: 255 means no ink.
    stored = np.zeros((8, 16, 4), np.uint8)
    stored[:, :8] = [255, 0, 0, 255]  # magenta + yellow ink: red
    stored[:, 8:] = [255, 255, 0, 255]  # yellow ink only: yellow
    image = decode_ldr(_cmyk_jpeg(stored), "cmyk.jpg")
    assert image.rgb.shape == (8, 16, 3) and image.alpha is None
    np.testing.assert_allclose(image.rgb[4, 4], [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(image.rgb[4, 12], [1, 1, 0], atol=0.02)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_1x1(ext):
    red = np.array([[[0, 0, 255]]], np.uint8)  # BGR
    image = decode_ldr(encode(ext, red, cv2.IMWRITE_JPEG_QUALITY, 100), "one" + ext)
    assert image.rgb.shape == (1, 1, 3)
    assert image.rgb[0, 0, 0] > 0.9 and image.rgb[0, 0, 2] < 0.1


# ---------------------------------------------------------------- EXIF orientation

# Where the stored top-left and top-right corners end up for each EXIF orientation.
_MOVES = {
    1: ("TL", "TR"),
    2: ("TR", "TL"),
    3: ("BR", "BL"),
    4: ("BL", "BR"),
    5: ("TL", "BL"),
    6: ("TR", "BR"),
    7: ("BR", "TR"),
    8: ("BL", "TL"),
}


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation(orientation, order):
    jpeg = encode(".jpg", _marked_grey(), cv2.IMWRITE_JPEG_QUALITY, 100)
    image = decode_ldr(_with_exif(jpeg, _tiff(orientation, order)), "o.jpg")
    assert image.rgb.shape == ((16, 24, 3) if orientation <= 4 else (24, 16, 3))
    assert image.rgb.flags.c_contiguous
    corners = _corners(image.rgb)
    dark, light = _MOVES[orientation]
    assert abs(corners[dark] - 20) < 4
    assert abs(corners[light] - 230) < 4
    others = set(corners) - {dark, light}
    assert all(abs(corners[c] - 120) < 4 for c in others)


def test_png_exif_orientation_turns_alpha_too():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[0, 0] = [0, 0, 255, 255]  # opaque red at the stored top-left
    data = encode(".png", bgra)
    # Splice an eXIf chunk (orientation 6: turn clockwise) in after IHDR.
    data = data[:33] + png_chunk(b"eXIf", _tiff(6, ">")) + data[33:]
    image = decode_ldr(data, "o.png")
    assert image.rgb.shape == (3, 2, 3) and image.alpha.shape == (3, 2)
    np.testing.assert_array_equal(image.rgb[0, 1], [1, 0, 0])
    assert image.alpha[0, 1] == 1 and image.alpha.sum() == 1


@pytest.mark.parametrize(
    "tiff",
    [
        _tiff(0),
        _tiff(9),
        _tiff(65535, ">"),
        _tiff(6, kind=4),  # wrong field type
        _tiff(6)[:14],  # cut inside the entry
        _tiff(6)[:6],  # cut inside the header
        b"XX*\x00" + _tiff(6)[4:],  # unknown byte order
        _tiff(6)[:4] + struct.pack("<I", 10_000) + _tiff(6)[8:],  # IFD offset past the end
        _tiff(6)[:8] + struct.pack("<H", 65535),  # absurd entry count, no entries
        b"",
    ],
)
def test_bogus_orientation_is_ignored(tiff):
    jpeg = encode(".jpg", _marked_grey(), cv2.IMWRITE_JPEG_QUALITY, 100)
    image = decode_ldr(_with_exif(jpeg, tiff), "o.jpg")
    assert image.rgb.shape == (16, 24, 3)
    dark, light = _MOVES[1]
    assert abs(_corners(image.rgb)[dark] - 20) < 4


# ---------------------------------------------------------------- colour profiles


def _with_icc_jpeg(jpeg: bytes, profile: bytes, pieces: int = 1, drop: int | None = None) -> bytes:
    """The profile in numbered APP2 pieces, as writers split profiles over 64 KB; `drop` loses one."""
    size = -(-len(profile) // pieces)
    segments = [_segment(0xE2, b"ICC_PROFILE\0" + bytes([i + 1, pieces]) + profile[i * size : (i + 1) * size])
                for i in range(pieces) if i + 1 != drop]
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def test_adobe_rgb_png_is_re_encoded_to_the_srgb_curve(png_bytes):
    plain = decode_ldr(png_bytes, "plain.png")
    tagged = decode_ldr(with_icc_png(png_bytes, adobe_profile()), "adobe.png")
    assert plain.rgb_to_rec709 is None and tagged.profile is not None
    np.testing.assert_allclose(tagged.rgb, srgb_encode(plain.rgb.astype(np.float64) ** ADOBE_GAMMA), atol=2e-4)
    assert (tagged.rgb_to_rec709 @ [0.0, 1.0, 0.0])[0] < 0  # Adobe green lies outside Rec.709


@pytest.mark.parametrize("pieces", [1, 3])
def test_display_p3_jpeg_keeps_its_pixels_and_knows_its_primaries(jpeg_bytes, pieces):
    plain = decode_ldr(jpeg_bytes, "plain.jpg")
    tagged = decode_ldr(_with_icc_jpeg(jpeg_bytes, p3_profile(), pieces), "p3.jpg")
    assert "Display P3" in tagged.profile.description
    np.testing.assert_allclose(tagged.rgb, plain.rgb, atol=1e-4)  # P3 shares the sRGB curve
    np.testing.assert_allclose(tagged.rgb_to_rec709, P3_TO_REC709, atol=3e-3)


def test_grey_png_with_a_grey_profile_is_re_encoded():
    grey = build_profile({b"desc": desc_tag("Gray Gamma 2.2"), b"kTRC": gamma_tag(2.2)}, colour_space=b"GRAY")
    data = handmade_png(2, 1, 8, 0, [bytes([64, 192])], extra=[(b"iCCP", b"g\0\0" + zlib.compress(grey))])
    image = decode_ldr(data, "grey.png")
    assert image.profile is not None and image.rgb_to_rec709 is not None
    np.testing.assert_allclose(image.rgb[0, :, 0], srgb_encode((np.array([64, 192]) / 255) ** (563 / 256)), atol=1e-3)


def test_unusable_or_srgb_profiles_read_the_photo_as_srgb(jpeg_bytes, png_bytes):
    plain = decode_ldr(jpeg_bytes, "plain.jpg").rgb
    for data in (_with_icc_jpeg(jpeg_bytes, p3_profile(), pieces=3, drop=2),  # a piece is missing
                 _with_icc_jpeg(jpeg_bytes, srgb_profile()),
                 _with_icc_jpeg(jpeg_bytes, b"not a profile at all")):
        image = decode_ldr(data, "x.jpg")
        assert image.profile is None and np.array_equal(image.rgb, plain)
    bomb = png_bytes[:33] + png_chunk(b"iCCP", b"x\0\0" + zlib.compress(bytes(50 << 20))) + png_bytes[33:]
    assert decode_ldr(bomb, "bomb.png").profile is None  # inflated only up to 1 MB, then refused


# ---------------------------------------------------------------- broken input


def _assert_input_error(data: bytes, name: str, match: str | None = None) -> None:
    with pytest.raises(InputError, match=match) as info:
        decode_ldr(data, name)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_ldr(path)


def test_random_bytes():
    noise = np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    _assert_input_error(noise, "noise.jpg", "not a JPEG, PNG, TIFF, HEIF or WebP")
    # Random bytes behind a valid signature must fail in the decoder, not crash it.
    _assert_input_error(b"\xff\xd8\xff" + noise, "sig.jpg")
    _assert_input_error(b"\x89PNG\r\n\x1a\n" + noise, "sig.png")


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("just some text\n")
    with pytest.raises(InputError, match="not a JPEG, PNG, TIFF, HEIF or WebP") as info:
        read_ldr(path)
    assert str(path) in str(info.value)


def test_other_image_formats_are_refused():
    bmp = encode(".bmp", np.zeros((2, 2, 3), np.uint8))  # cv2 could decode it, but it is no JPEG
    _assert_input_error(bmp, "disguised.jpg", "not a JPEG, PNG, TIFF, HEIF or WebP")


@pytest.mark.parametrize("cut", ["half", "no-eoi", "header-only"])
def test_truncated_jpeg(jpeg_bytes, cut):
    size = {"half": len(jpeg_bytes) // 2, "no-eoi": len(jpeg_bytes) - 2, "header-only": 20}[cut]
    _assert_input_error(jpeg_bytes[:size], "cut.jpg", "truncated or corrupt")


def test_jpeg_missing_data_but_with_end_marker(jpeg_bytes):
    # libjpeg fills the missing part with grey and only warns; that warning must be noticed.
    data = encode(".jpg", np.random.default_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    _assert_input_error(data[: len(data) // 2] + b"\xff\xd9", "cut.jpg", "truncated or corrupt")


def test_jpeg_with_harmless_warning_is_fine(jpeg_bytes):
    # Stray bytes between header segments: libjpeg warns "extraneous bytes" and decodes fine.
    app0_end = 4 + struct.unpack(">H", jpeg_bytes[4:6])[0]
    data = jpeg_bytes[:app0_end] + b"\x00\x12\x34" + jpeg_bytes[app0_end:]
    np.testing.assert_array_equal(decode_ldr(data, "stray.jpg").rgb, decode_ldr(jpeg_bytes, "a.jpg").rgb)


def test_library_chatter_stays_off_the_terminal(capfd, jpeg_bytes, png_bytes):
    for data in (jpeg_bytes[: len(jpeg_bytes) // 2] + b"\xff\xd9", png_bytes[:-20]):
        with pytest.raises(InputError):
            decode_ldr(data, "broken")
    assert capfd.readouterr() == ("", "")


def test_concurrent_decodes_keep_verdicts_and_stderr(capfd):
    # Warnings are caught on the process-wide stderr: threads must not mix them up or lose it.
    jpeg_bytes = encode(".jpg", np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    broken = jpeg_bytes[: len(jpeg_bytes) // 2] + b"\xff\xd9"  # decodes, with a warning

    def verdict(i: int) -> str:
        try:
            decode_ldr(broken if i % 2 else jpeg_bytes, "x.jpg")
        except InputError:
            return "bad"
        return "ok"

    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(verdict, range(40)))
    assert verdicts == ["ok", "bad"] * 20
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_jpeg_with_bytes_after_end_marker_is_fine(jpeg_bytes):
    assert decode_ldr(jpeg_bytes + b"\x00" * 16 + b"trailer", "t.jpg").rgb.shape == (16, 16, 3)


def test_truncated_png(png_bytes):
    _assert_input_error(png_bytes[: len(png_bytes) - 20], "cut.png", "truncated or corrupt")


def test_png_decompression_bomb_refused_from_header():
    data = handmade_png(100_000, 100_000, 8, 2, [])  # a few dozen bytes declaring 10 gigapixels
    start = time.perf_counter()
    _assert_input_error(data, "bomb.png", "100000x100000")
    assert time.perf_counter() - start < 0.5


def test_jpeg_decompression_bomb_refused_from_header(jpeg_bytes):
    sof = jpeg_bytes.index(b"\xff\xc0")
    data = jpeg_bytes[: sof + 5] + struct.pack(">HH", 65000, 65000) + jpeg_bytes[sof + 9 :]
    _assert_input_error(data, "bomb.jpg", "65000x65000")


def test_png_chunk_claiming_gigabytes_refused_quickly(png_bytes):
    # OpenCV would try to allocate the claimed ~3.6 GB chunk before noticing the file ends.
    data = png_bytes[:33] + struct.pack(">I", 0xD6FF_0000) + png_bytes[37:]
    start = time.perf_counter()
    _assert_input_error(data, "chunk.png", "truncated or corrupt")
    assert time.perf_counter() - start < 0.5


def test_pixel_limit_is_adjustable(png_bytes):
    with pytest.raises(InputError, match="limit"):
        decode_ldr(png_bytes, "a.png", max_pixels=63)
    assert decode_ldr(png_bytes, "a.png", max_pixels=64).rgb.shape == (8, 8, 3)


def test_mutated_files_only_ever_raise_input_error(jpeg_bytes, png_bytes):
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tiffs = (tiff_file(rgb, orientation=6, icc=p3_profile(), exif=exif_capture()),
             tiff_file(rng.integers(0, 65536, (6, 5, 4), dtype=np.uint16), order=">", compression=DEFLATE),
             encode(".tiff", rgb, cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_LZW))
    heics = (heif_file(rgb, quality=80, chroma=420, exif=exif_tiff(orientation=6), icc=p3_profile()),
             heif_file(rng.integers(0, 1024, (6, 5, 4), dtype=np.uint16), bits=10))
    for original, cases in ((jpeg_bytes, 150), (png_bytes, 150), *((data, 100) for data in tiffs + heics)):
        for _ in range(cases):
            data = bytearray(original)
            for position in rng.integers(0, len(data), rng.integers(1, 8)):
                data[position] = rng.integers(0, 256)
            if rng.random() < 0.3:
                data = data[: rng.integers(0, len(data))]
            try:
                image = decode_ldr(bytes(data), "fuzz")
            except InputError as exc:
                assert "\n" not in str(exc)
                continue
            assert image.rgb.ndim == 3 and image.rgb.shape[2] == 3 and image.rgb.dtype == np.float32
            assert 0 <= image.rgb.min() and image.rgb.max() <= 1


# ---------------------------------------------------------------- paths


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_ldr(tmp_path / "missing.jpg")


def test_directory(tmp_path):
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    with pytest.raises(UsageError, match="folder"):
        read_ldr(folder)


def test_unsupported_extension(tmp_path, png_bytes):
    path = tmp_path / "image.bmp"
    path.write_bytes(png_bytes)
    with pytest.raises(UsageError, match="'.bmp'"):
        read_ldr(path)


@pytest.mark.parametrize("name", ["UPPER.JPG", "mixed.Jpeg"])
def test_extension_case_insensitive(tmp_path, jpeg_bytes, name):
    assert ".jpeg" in LDR_EXTENSIONS
    path = tmp_path / name
    path.write_bytes(jpeg_bytes)
    assert read_ldr(path).rgb.shape == (16, 16, 3)


def test_path_with_spaces_and_non_ascii(tmp_path, png_bytes):
    path = tmp_path / "dossier à part" / "ünï cödé photo.png"
    path.parent.mkdir()
    path.write_bytes(png_bytes)
    assert read_ldr(path).rgb.shape == (8, 8, 3)


# ---------------------------------------------------------------- HDR photos (PQ, HLG) are refused


def _with_cicp_png(png: bytes, transfer: int) -> bytes:
    return png[:33] + png_chunk(b"cICP", bytes([9, transfer, 0, 1])) + png[33:]


@pytest.mark.parametrize(("transfer", "curve"), [(16, "PQ"), (18, "HLG")])
def test_a_png_whose_cicp_chunk_says_pq_or_hlg_is_refused(photo, transfer, curve):
    with pytest.raises(InputError, match=rf"^hdr\.png: HDR PNG \({curve} transfer\): it holds HDR data already"):
        decode_ldr(_with_cicp_png(encode(".png", photo), transfer), "hdr.png")


def test_a_png_whose_cicp_chunk_says_sdr_reads_and_overrides_an_hdr_profile(photo):
    sdr = _with_cicp_png(encode(".png", photo), 13)  # 13: the sRGB curve
    np.testing.assert_array_equal(decode_ldr(sdr, "sdr.png").rgb, decode_ldr(encode(".png", photo), "a.png").rgb)
    # PNG 3rd edition: cICP overrides iCCP, so an SDR cICP beside a PQ profile reads as SDR
    both = _with_cicp_png(with_icc_png(encode(".png", photo), pq_profile()), 13)
    assert decode_ldr(both, "both.png").rgb.shape == photo.shape


def test_a_png_or_jpeg_whose_icc_profile_says_pq_is_refused(photo):
    pq = with_icc_png(encode(".png", photo), pq_profile())
    with pytest.raises(InputError, match=r"^pq\.png: HDR PNG \(PQ transfer\)"):
        decode_ldr(pq, "pq.png")
    jpeg = encode(".jpg", photo)
    profile = pq_profile()
    app2 = b"\xff\xe2" + struct.pack(">H", 2 + 14 + len(profile)) + b"ICC_PROFILE\0\x01\x01" + profile
    with pytest.raises(InputError, match=r"^pq\.jpg: HDR JPEG \(PQ transfer\)"):
        decode_ldr(jpeg[:2] + app2 + jpeg[2:], "pq.jpg")
