"""HEIC/HEIF input: what reads (and how closely: HEVC is lossy), what is refused with one line, what
damage is caught, and that the pixel cap holds before anything is decoded.

Files come from pillow-heif's encoder at test time (heif_files.heif_file), edited box by box for what
it will not write.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import time

import numpy as np
import pillow_heif
import pytest

from conftest import encode, with_icc_png
from heif_files import box_at, heif_file, several_images, with_brands, with_size
from icc_profiles import P3_TO_REC709, p3_profile, pq_profile, srgb_encode
from test_exif import CAPTURE, exif_tiff

from fhdr_cli.errors import InputError
from fhdr_cli.io.photo import LDR_EXTENSIONS, as_shot, decode_ldr, read_ldr

RNG = np.random.default_rng(21)
# BT.2020 -> Rec.709, both D65 (ITU-R BT.2087)
BT2020_TO_REC709 = [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]


def _refused(data: bytes, name: str, match: str, **options) -> str:
    with pytest.raises(InputError, match=match) as info:
        decode_ldr(data, name, **options)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    return message


def _marked() -> np.ndarray:
    """32 x 48 black with a red top-left and a green top-right 8x8 block, for orientation tests."""
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:8, :8] = (255, 0, 0)
    rgb[:8, -8:] = (0, 255, 0)
    return rgb


# ---------------------------------------------------------------- what reads, and how closely


def test_8bit_lossy_round_trip_is_close_and_keeps_the_size(photo):
    image = decode_ldr(heif_file(photo, quality=90, chroma=420), "a.heic")
    assert image.rgb.dtype == np.float32 and image.rgb.shape == (37, 53, 3)
    assert image.bit_depth == 8 and image.alpha is None and image.orientation == 1
    assert image.profile is None and image.capture == {}
    error = np.abs(image.rgb * 255 - photo)
    # measured: mean 2.5, 99th percentile 20, worst 48 (chroma at the clipped patch's edge, at 4:2:0)
    assert error.mean() < 3 and np.percentile(error, 99) <= 24 and error.max() <= 64


def test_lossless_8bit_is_within_one_code(photo):
    image = decode_ldr(heif_file(photo), "a.heic")
    assert np.abs(image.rgb * 255 - photo).max() <= 1 + 1e-4  # RGB -> YCbCr -> RGB rounding


@pytest.mark.parametrize("bits", [10, 12])
def test_high_bit_depth_reads_at_full_precision(bits):
    white = 2**bits - 1
    codes = RNG.integers(0, white + 1, (6, 8, 3), dtype=np.uint16)
    codes[0, 0] = white
    data = heif_file(codes, bits=bits)
    assert pillow_heif.open_heif(data, convert_hdr_to_8bit=False).info["bit_depth"] == bits
    image = decode_ldr(data, f"{bits}.heic")
    assert image.bit_depth == 16 and image.rgb.shape == (6, 8, 3)
    assert np.abs(image.rgb * white - codes).max() <= 1 + 1e-3
    # white is 1.0, not libheif's own shift to 16 bits (1023 << 6 = 65472, i.e. 0.99903)
    assert (image.rgb[0, 0] == 1.0).all()


def test_alpha_is_kept(photo):
    alpha = np.tile(np.linspace(0, 255, 53).astype(np.uint8), (37, 1))
    image = decode_ldr(heif_file(np.dstack([photo, alpha])), "rgba.heic")
    assert image.alpha is not None and image.alpha.dtype == np.float32
    np.testing.assert_array_equal(image.alpha, alpha / np.float32(255))
    assert np.abs(image.rgb * 255 - photo).max() <= 1 + 1e-4  # straight colour, as stored


def test_premultiplied_alpha_is_made_straight(photo):
    alpha = np.tile(np.linspace(0, 255, 53).astype(np.uint8), (37, 1))
    premultiplied = np.round(photo * (alpha[:, :, None] / 255)).astype(np.uint8)
    image = decode_ldr(heif_file(np.dstack([premultiplied, alpha]), premultiplied=True), "prem.heic")
    opaque_enough = alpha > 128  # below, premultiplying lost too many codes to get them back
    assert np.abs(image.rgb * 255 - photo)[opaque_enough].max() < 4


def test_grey_becomes_rgb(photo):
    image = decode_ldr(heif_file(photo[:, :, 1]), "grey.heic")
    assert image.rgb.shape == (37, 53, 3) and image.alpha is None
    assert (image.rgb[:, :, 0] == image.rgb[:, :, 2]).all()
    assert np.abs(image.rgb[:, :, 1] * 255 - photo[:, :, 1]).max() <= 1 + 1e-4


def test_a_grid_of_tiles_reads_as_one_picture(photo):
    data = heif_file(photo, tile_size=16)
    assert b"grid" in data
    image = decode_ldr(data, "tiles.heic")
    assert image.rgb.shape == (37, 53, 3) and np.abs(image.rgb * 255 - photo).max() <= 1 + 1e-4


def test_only_the_primary_image_is_read():
    assert decode_ldr(several_images([(16, 8), (24, 12)], primary=1), "two.heic").rgb.shape == (12, 24, 3)
    assert decode_ldr(several_images([(16, 8), (24, 12)], primary=0), "two.heic").rgb.shape == (8, 16, 3)
    thumbnailed = heif_file(np.zeros((64, 96, 3), np.uint8), quality=50, thumbnails=[16])
    assert pillow_heif.open_heif(thumbnailed).info["thumbnails"]  # there is one, and it is not what is read
    assert decode_ldr(thumbnailed, "thumb.heic").rgb.shape == (64, 96, 3)


# ---------------------------------------------------------------- orientation and EXIF


@pytest.mark.parametrize("orientation", [2, 3, 5, 6, 7, 8])
def test_a_turned_heic_reads_as_shot_and_is_turned_once(orientation):
    marked = _marked()
    data = heif_file(marked, exif=exif_tiff(orientation=orientation))
    assert b"irot" in data or b"imir" in data  # the encoder stores the turn in HEIF's own boxes
    image = decode_ldr(data, "turned.heic")
    expected = as_shot(marked, orientation)
    assert image.rgb.shape == expected.shape
    assert np.abs(image.rgb * 255 - expected).max() <= 2  # not turned a second time by the EXIF tag
    assert image.orientation == 1  # nothing left to undo: the pixels are as shot
    assert image.capture == pytest.approx(CAPTURE)


def test_an_exif_orientation_without_heif_rotation_is_not_applied():
    marked = _marked()
    data = heif_file(marked, exif=exif_tiff(orientation=1))
    entry = struct.pack("<HHIH", 0x0112, 3, 1, 1)
    assert data.count(entry) == 1 and b"irot" not in data
    data = data.replace(entry, struct.pack("<HHIH", 0x0112, 3, 1, 6))
    image = decode_ldr(data, "exif-only.heic")
    assert image.rgb.shape == (32, 48, 3) and image.orientation == 1  # HEIF's boxes say how to show it
    assert np.abs(image.rgb * 255 - marked).max() <= 2


def test_exif_exposure_settings_are_kept(photo):
    image = decode_ldr(heif_file(photo, exif=b"Exif\0\0" + exif_tiff(">", orientation=1)), "exif.heic")
    assert image.capture == pytest.approx(CAPTURE)


# ---------------------------------------------------------------- colour


def test_display_p3_profile_is_applied_as_for_a_png(photo):
    from_png = decode_ldr(with_icc_png(encode(".png", np.ascontiguousarray(photo[:, :, ::-1])), p3_profile()), "p3.png")
    from_heif = decode_ldr(heif_file(photo, icc=p3_profile()), "p3.heic")
    assert "Display P3" in from_heif.profile.description
    np.testing.assert_array_equal(from_heif.rgb_to_rec709, from_png.rgb_to_rec709)
    np.testing.assert_allclose(from_heif.rgb_to_rec709, P3_TO_REC709, atol=3e-3)
    assert np.abs(from_heif.rgb - from_png.rgb).max() <= 1 / 255 + 1e-4


@pytest.mark.parametrize("primaries, to_rec709", [(12, P3_TO_REC709), (9, BT2020_TO_REC709)], ids=["p3", "bt2020"])
def test_nclx_primaries_without_a_profile_are_applied(photo, primaries, to_rec709):
    plain = decode_ldr(heif_file(photo), "plain.heic")
    tagged = decode_ldr(heif_file(photo, nclx=(primaries, 13)), "nclx.heic")
    assert tagged.profile is not None and tagged.profile.description == f"nclx primaries {primaries}"
    np.testing.assert_allclose(tagged.rgb_to_rec709, to_rec709, atol=3e-3)
    np.testing.assert_allclose(tagged.rgb, plain.rgb, atol=1e-3)  # the sRGB curve: the values stay


def test_nclx_srgb_and_unspecified_read_as_srgb(photo):
    for nclx in ((1, 13), (2, 2), (1, 1)):
        assert decode_ldr(heif_file(photo, nclx=nclx), "srgb.heic").profile is None


def test_nclx_linear_light_is_re_encoded_to_the_srgb_curve(photo):
    plain = decode_ldr(heif_file(photo), "plain.heic")
    linear = decode_ldr(heif_file(photo, nclx=(1, 8)), "linear.heic")
    np.testing.assert_allclose(linear.rgb, srgb_encode(plain.rgb), atol=2e-3)
    np.testing.assert_allclose(linear.rgb_to_rec709, np.eye(3), atol=1e-3)


@pytest.mark.parametrize("transfer, curve", [(16, "PQ"), (18, "HLG")])
def test_hdr_heif_is_refused(transfer, curve):
    data = heif_file(RNG.integers(0, 1024, (8, 8, 3), dtype=np.uint16), bits=10, nclx=(9, transfer))
    _refused(data, "hdr.heic", rf"HDR HEIF \({curve} transfer\)")


def test_an_icc_profile_saying_pq_is_refused():
    data = heif_file(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8), icc=pq_profile())
    _refused(data, "pq.heic", r"HDR HEIF \(PQ transfer\)")


# ---------------------------------------------------------------- refused, damaged, too big


def test_avif_and_other_iso_media_are_refused(photo):
    data = heif_file(photo[:8, :8])
    _refused(with_brands(data, b"avif", b"mif1"), "a.avif.heic", "AVIF is not supported")
    _refused(with_brands(data, b"avif", b"avif"), "a.heic", "AVIF is not supported")
    _refused(with_brands(data, b"isom", b"mp41"), "clip.heic", "without a HEIF brand")
    # a HEIF whose image is coded with a codec libheif here lacks (AV1)
    av1 = with_brands(data, b"mif1", b"mif1").replace(b"hvc1", b"av01")
    _refused(av1, "av1.heif", "no image libheif can decode")


@pytest.mark.parametrize("cut", [12, 20, 40, 300, -200, -1])
def test_truncated_heif_is_refused(photo, cut):
    data = heif_file(photo, quality=90)
    _refused(data[:cut], "cut.heic", "truncated or corrupt HEIF")


def test_garbage_after_the_file_type_box_is_refused(photo):
    data = heif_file(photo)
    size = struct.unpack(">I", data[:4])[0]
    noise = RNG.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    _refused(data[:size] + noise, "noise.heic", "truncated or corrupt HEIF")
    _refused(data[:size] + bytes(64), "zeros.heic", "truncated or corrupt HEIF")


def test_a_size_the_coded_image_does_not_have_is_refused():
    data = heif_file(np.zeros((64, 64, 3), np.uint8), quality=50)
    _refused(with_size(data, 128, 96), "size.heic", "truncated or corrupt HEIF")


def test_huge_declared_size_is_refused_before_decoding(monkeypatch):
    data = heif_file(np.zeros((64, 64, 3), np.uint8), quality=50)  # 64 x 64: no crop box over the size
    assert b"clap" not in data

    def decoding(*args):
        raise AssertionError("decoded before the size was checked")

    monkeypatch.setattr(pillow_heif.HeifImage, "load", decoding)
    start = time.perf_counter()
    _refused(with_size(data, 20000, 20000), "bomb.heic", "20000x20000 pixels, more than the limit")
    _refused(with_size(data, 2000, 2000), "big.heic", "2000x2000 pixels, more than the limit of 1,000,000",
             max_pixels=1_000_000)
    assert time.perf_counter() - start < 0.5


def test_pixel_limit_is_adjustable():
    data = heif_file(np.zeros((64, 64, 3), np.uint8), quality=50)
    with pytest.raises(InputError, match="limit"):
        decode_ldr(data, "a.heic", max_pixels=4095)
    assert decode_ldr(data, "a.heic", max_pixels=4096).rgb.shape == (64, 64, 3)


def test_library_chatter_stays_off_the_terminal(capfd, photo):
    data = heif_file(photo, quality=90)
    mdat = box_at(data, b"mdat")
    for broken in (data[:-100], data[: mdat + 40], data[:60], data[:mdat] + b"\0\0\0\x08mdat"):
        with pytest.raises(InputError):
            decode_ldr(broken, "broken.heic")
    assert capfd.readouterr() == ("", "")


# ---------------------------------------------------------------- files and imports


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "photo.heic", "photo.heif", "canon.HIF"])
def test_read_ldr_takes_heif_extensions(tmp_path, photo, name):
    assert {".heic", ".heif", ".hif"} <= set(LDR_EXTENSIONS)
    path = tmp_path / name
    path.write_bytes(heif_file(photo))
    assert read_ldr(path).rgb.shape == (37, 53, 3)


def test_a_heif_named_jpg_still_reads_and_a_jpeg_named_heic_too(tmp_path, photo):
    heic = heif_file(photo)
    assert decode_ldr(heic, "disguised.jpg").rgb.shape == (37, 53, 3)
    jpeg = encode(".jpg", photo)
    (tmp_path / "really.heic").write_bytes(jpeg)
    assert read_ldr(tmp_path / "really.heic").rgb.shape == (37, 53, 3)


def test_pillow_heif_is_imported_for_the_first_heif_only(tmp_path, photo):
    (tmp_path / "a.heic").write_bytes(heif_file(photo))
    (tmp_path / "a.png").write_bytes(encode(".png", photo))
    script = (
        "import sys; from pathlib import Path; import fhdr_cli, fhdr_cli.__main__\n"
        "from fhdr_cli.io.photo import read_ldr\n"
        f"read_ldr(Path({str(tmp_path / 'a.png')!r}))\n"
        "assert not {'pillow_heif', 'PIL'} & set(sys.modules), 'imported before any HEIF'\n"
        f"read_ldr(Path({str(tmp_path / 'a.heic')!r}))\n"
        "assert 'pillow_heif' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_without_pillow_heif_a_heif_is_refused_in_one_line(monkeypatch, photo):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    _refused(heif_file(photo), "a.heic", r"needs the heic extra: pip install 'fhdr\[heic\]'")
    assert decode_ldr(encode(".png", photo), "a.png").rgb.shape == (37, 53, 3)
