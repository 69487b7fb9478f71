"""Photos written by another project's encoders (Pillow: libtiff, libwebp, libpng, libjpeg) read as
that project reads them: the same pixels, turned by the same EXIF orientation, the same profile
applied. The other reader tests build their files with OpenCV or by hand."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import encode, with_icc_png
from fhdr_cli.io.photo import decode_ldr
from icc_profiles import p3_profile

RNG = np.random.default_rng(7)
PIXELS = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
ORIENTATION = 0x0112


def _saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif.tobytes()


def _as_pillow_shows(data: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert(mode))


LOSSLESS = [("PNG", {}), ("TIFF", {"compression": "tiff_lzw"}), ("TIFF", {"compression": "tiff_adobe_deflate"}),
            ("TIFF", {"compression": "packbits"}), ("WEBP", {"lossless": True})]


@pytest.mark.parametrize(("fmt", "options"), LOSSLESS)
@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_lossless_files_read_as_pillow_shows_them(fmt, options, orientation):
    data = _saved(Image.fromarray(PIXELS), fmt, exif=_exif(orientation), **options)
    photo = decode_ldr(data, f"photo.{fmt.lower()}")
    shown = _as_pillow_shows(data)
    assert photo.orientation == orientation and photo.rgb.shape == shown.shape
    np.testing.assert_array_equal(np.round(photo.rgb * 255), shown)


@pytest.mark.parametrize(("fmt", "options"), [("JPEG", {"quality": 90}), ("TIFF", {"compression": "jpeg"}),
                                              ("WEBP", {"quality": 90})])
def test_lossy_files_read_as_pillow_decodes_them(fmt, options):
    data = _saved(Image.fromarray(PIXELS), fmt, exif=_exif(6), **options)
    photo = decode_ldr(data, f"photo.{fmt.lower()}")
    shown = _as_pillow_shows(data).astype(np.float32)
    assert photo.rgb.shape == shown.shape == (53, 37, 3)
    # the same codec library, though maybe another upsampling of the chroma: a few codes at most
    assert np.abs(photo.rgb * 255 - shown).mean() < 2.0


@pytest.mark.parametrize(("fmt", "options"), [("PNG", {}), ("TIFF", {"compression": "tiff_lzw"}),
                                              ("WEBP", {"lossless": True, "exact": True})])
def test_rgba_keeps_straight_colour_and_alpha(fmt, options):
    rgba = np.dstack([PIXELS, RNG.integers(0, 256, PIXELS.shape[:2], dtype=np.uint8)])
    data = _saved(Image.fromarray(rgba, "RGBA"), fmt, **options)
    photo = decode_ldr(data, f"photo.{fmt.lower()}")
    np.testing.assert_array_equal(np.round(photo.rgb * 255), rgba[..., :3])
    np.testing.assert_array_equal(np.round(photo.alpha * 255), rgba[..., 3])


def test_sixteen_bit_grey_tiff_is_exact():
    grey = RNG.integers(0, 65536, (37, 53)).astype(np.uint16)
    photo = decode_ldr(_saved(Image.fromarray(grey), "TIFF"), "grey16.tif")
    assert photo.bit_depth == 16
    for channel in range(3):
        np.testing.assert_array_equal(np.round(photo.rgb[..., channel] * 65535), grey)


@pytest.mark.parametrize(("fmt", "options"), [("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {"lossless": True}),
                                              ("JPEG", {"quality": 100, "subsampling": 0})])
def test_an_icc_profile_pillow_embeds_is_applied_as_for_a_png(fmt, options):
    data = _saved(Image.fromarray(PIXELS), fmt, icc_profile=p3_profile(), **options)
    photo = decode_ldr(data, f"p3.{fmt.lower()}")
    png = decode_ldr(with_icc_png(encode(".png", PIXELS[..., ::-1]), p3_profile()), "p3.png")  # cv2 writes BGR
    assert photo.profile is not None
    np.testing.assert_allclose(photo.rgb_to_rec709, png.rgb_to_rec709)
    if fmt == "JPEG":  # quality 100, no subsampling: still lossy by a code or so
        assert np.abs(photo.rgb - png.rgb).mean() < 1 / 255 and np.abs(photo.rgb - png.rgb).max() < 8 / 255
    else:
        np.testing.assert_allclose(photo.rgb, png.rgb, atol=1e-6)
