"""WebP input: what reads (lossless exactly, lossy closely), what is refused with one line, what damage
is caught, and that the pixel cap holds before anything is decoded.

Files come from OpenCV's encoder, their RIFF chunks rewritten by webp_files for what it will not
write (an ICC profile, EXIF, another declared size).
"""

from __future__ import annotations

import struct
import time

import cv2
import numpy as np
import pytest

from conftest import encode, with_icc_png
from icc_profiles import P3_TO_REC709, p3_profile, pq_profile
from test_exif import exif_tiff
from webp_files import ICC_FLAG, EXIF_FLAG, animated_webp, chunk, chunks_of, riff, vp8x, webp_file

from fhdr_cli.errors import InputError
from fhdr_cli.io.photo import LDR_EXTENSIONS, as_shot, decode_ldr, read_ldr

RNG = np.random.default_rng(31)
RGB8 = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
# `photo` (conftest): 37 x 53, odd sides, so VP8 pads its 16 x 16 macroblocks and crops


def _refused(data: bytes, name: str, match: str, max_pixels: int | None = None) -> str:
    with pytest.raises(InputError, match=match) as info:
        decode_ldr(data, name) if max_pixels is None else decode_ldr(data, name, max_pixels)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    return message


def _values(image) -> np.ndarray:
    return np.round(image.rgb * 255).astype(np.int64)


# ---------------------------------------------------------------- what reads


def test_lossless_round_trip_is_exact(photo):
    data = webp_file(photo)
    assert data[12:16] == b"VP8L"
    image = decode_ldr(data, "a.webp")
    assert image.rgb.dtype == np.float32 and image.rgb.shape == photo.shape
    assert image.bit_depth == 8 and image.alpha is None and image.orientation == 1 and image.profile is None
    np.testing.assert_array_equal(image.rgb, photo.astype(np.float32) / 255)


def test_lossy_round_trip_is_close(photo):
    data = webp_file(photo, quality=90)
    assert data[12:16] == b"VP8 "
    image = decode_ldr(data, "a.webp")
    assert image.rgb.shape == photo.shape and image.bit_depth == 8 and image.alpha is None
    error = np.abs(_values(image) - photo)
    assert error.mean() < 4 and np.percentile(error, 99) < 20
    # the channel order survives the codec: red stays red
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    np.testing.assert_allclose(decode_ldr(webp_file(red, quality=90), "red.webp").rgb[8, 8], [1, 0, 0], atol=0.02)


def test_lossless_alpha_is_kept_straight_and_exact(photo):
    alpha = RNG.integers(0, 256, photo.shape[:2], dtype=np.uint8)
    rgba = np.dstack([photo, alpha])
    image = decode_ldr(webp_file(rgba, preserve_colour=True), "a.webp")
    np.testing.assert_array_equal(_values(image), photo)  # not multiplied by alpha
    assert image.alpha is not None and image.alpha.dtype == np.float32
    np.testing.assert_array_equal(np.round(image.alpha * 255), alpha)


def test_lossy_colour_with_lossless_alpha(photo):
    alpha = np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8), (photo.shape[0], 1))
    data = webp_file(np.dstack([photo, alpha]), quality=90)
    assert [kind for kind, _ in chunks_of(data)] == [b"VP8X", b"ALPH", b"VP8 "]
    image = decode_ldr(data, "a.webp")
    np.testing.assert_array_equal(np.round(image.alpha * 255), alpha)  # ALPH is lossless by default
    visible = alpha > 32
    assert np.abs(_values(image) - photo)[visible].mean() < 5


def test_display_p3_profile_is_applied_as_for_png(photo):
    png = decode_ldr(with_icc_png(encode(".png", photo[:, :, ::-1]), p3_profile()), "p3.png")
    webp = decode_ldr(webp_file(photo, icc=p3_profile()), "p3.webp")
    assert "Display P3" in webp.profile.description
    np.testing.assert_array_equal(webp.rgb, png.rgb)
    np.testing.assert_allclose(webp.rgb_to_rec709, P3_TO_REC709, atol=3e-3)


def test_profile_ignored_without_its_vp8x_flag_or_when_unusable(photo):
    plain = decode_ldr(webp_file(photo), "a.webp").rgb
    data = webp_file(photo, icc=p3_profile())
    unflagged = data[:20] + bytes([data[20] & ~ICC_FLAG]) + data[21:]  # browsers ignore the chunk then
    assert decode_ldr(unflagged, "x.webp").profile is None
    for icc in (b"not a profile at all", p3_profile()[:100]):
        image = decode_ldr(webp_file(photo, icc=icc), "x.webp")
        assert image.profile is None and np.array_equal(image.rgb, plain)


def test_an_icc_profile_saying_pq_is_refused():
    _refused(webp_file(RGB8, icc=pq_profile()), "pq.webp", r"HDR WebP \(PQ transfer\)")


@pytest.mark.parametrize("quality", [101, 90])
def test_exif_orientation_six_is_applied_once_and_exposure_kept(photo, quality):
    # OpenCV turns WebPs by their EXIF itself when asked for colour; as stored, it must not.
    stored = photo.copy()
    stored[:8, :8] = 0  # a dark stored top-left corner, to see where it goes
    for exif in (exif_tiff(orientation=6), b"Exif\0\0" + exif_tiff(order=">", orientation=6)):
        image = decode_ldr(webp_file(stored, quality=quality, exif=exif), "turned.webp")
        assert image.orientation == 6 and image.rgb.shape == (53, 37, 3) and image.rgb.flags.c_contiguous
        assert image.rgb[:8, -8:].max() < 0.1  # top-left as stored -> top-right as shot
        if quality == 101:
            np.testing.assert_array_equal(_values(image), as_shot(stored, 6))
        assert image.capture == pytest.approx({"expTime": 1 / 250, "aperture": 2.8, "isoSpeed": 400.0,
                                               "capDate": "2024:05:01 18:22:10"})


def test_orientation_six_turns_alpha_too():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red at the stored top-left
    image = decode_ldr(webp_file(rgba, exif=exif_tiff(orientation=6)), "o.webp")
    assert image.rgb.shape == (3, 2, 3) and image.alpha.shape == (3, 2)
    np.testing.assert_array_equal(image.rgb[0, 1], [1, 0, 0])
    assert image.alpha[0, 1] == 1 and image.alpha.sum() == 1


def test_exif_ignored_without_its_vp8x_flag(photo):
    data = webp_file(photo, exif=exif_tiff(orientation=6))
    unflagged = data[:20] + bytes([data[20] & ~EXIF_FLAG]) + data[21:]
    image = decode_ldr(unflagged, "x.webp")
    assert image.orientation == 1 and image.capture == {} and image.rgb.shape == photo.shape


def test_unknown_chunks_and_bytes_after_the_riff_are_skipped(photo):
    chunks = [chunk(kind, payload) for kind, payload in chunks_of(webp_file(photo, exif=exif_tiff()))]
    data = riff([chunks[0], chunk(b"XMP ", b"<x/>" * 3 + b"!"), *chunks[1:], chunk(b"ZZZZ", b"odd")]) + b"trailer"
    np.testing.assert_array_equal(_values(decode_ldr(data, "x.webp")), as_shot(photo, 6))


# ---------------------------------------------------------------- refused with one line


def test_animated_webp_is_refused(photo):
    data = animated_webp([photo[:, :, ::-1], 255 - photo[:, :, ::-1]])
    assert b"ANMF" in data
    _refused(data, "loop.webp", "^loop.webp: animated WebP is not supported")
    # the animation flag alone, or frames without it
    lossless = chunks_of(webp_file(photo))[0]
    _refused(riff([vp8x(0x02, 53, 37), chunk(*lossless)]), "flag.webp", "animated WebP")
    _refused(riff([vp8x(0, 53, 37), chunk(b"ANIM", bytes(6)), chunk(b"ANMF", bytes(16))]), "frames.webp",
             "animated WebP")


# ---------------------------------------------------------------- broken input


def test_truncated_and_garbage_webps_are_one_line_errors(photo):
    for data in (webp_file(photo), webp_file(photo, quality=80), webp_file(np.dstack([photo, photo[..., 0]]), 80)):
        for cut in (12, 16, 20, 30, 40, len(data) // 2, len(data) - 1):
            _refused(data[:cut], "cut.webp", "truncated or corrupt WebP")
        # the RIFF and chunk sizes made to fit a cut-off image payload: libwebp must notice
        kinds = chunks_of(data)
        kind, payload = kinds[-1]
        _refused(riff([chunk(k, p) for k, p in kinds[:-1]] + [chunk(kind, payload[: len(payload) // 2])]),
                 "half.webp", "truncated or corrupt WebP")
    noise = RNG.integers(0, 256, 2048, dtype=np.uint8).tobytes()
    _refused(b"RIFF" + struct.pack("<I", 2052) + b"WEBP" + noise, "noise.webp", "truncated or corrupt WebP")
    for kind in (b"VP8 ", b"VP8L", b"VP8X"):
        _refused(riff([chunk(kind, b"\0" + noise)]), "noise.webp", "truncated or corrupt WebP")  # flags 0: still
    _refused(riff([]), "empty.webp", "truncated or corrupt WebP")


def test_chunk_and_riff_sizes_are_bound_by_the_file(photo):
    data = webp_file(photo, exif=exif_tiff())
    start = time.perf_counter()
    _refused(data[:4] + struct.pack("<I", 0xFFFF_FFF0) + data[8:], "riff.webp", "truncated or corrupt WebP")
    exif_at = data.index(b"EXIF")
    _refused(data[: exif_at + 4] + struct.pack("<I", 1 << 30) + data[exif_at + 8 :], "chunk.webp",
             "truncated or corrupt WebP")
    assert time.perf_counter() - start < 0.5


def test_a_canvas_other_than_the_image_is_refused(photo):
    kind, payload = chunks_of(webp_file(photo))[0]
    _refused(riff([vp8x(0, 54, 37), chunk(kind, payload)]), "canvas.webp", "truncated or corrupt WebP")
    # and a simple file must start with its image
    _refused(riff([chunk(b"EXIF", exif_tiff()), chunk(kind, payload)]), "order.webp", "truncated or corrupt WebP")


def test_other_riff_files_are_not_webp():
    wav = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + bytes(28)
    _refused(wav, "sound.webp", "not a JPEG, PNG, TIFF, HEIF or WebP image")


def test_library_chatter_stays_off_the_terminal(capfd, photo):
    data = webp_file(photo, quality=80)
    for broken in (data[:31], riff([chunk(b"VP8 ", chunks_of(data)[0][1][:100])])):
        with pytest.raises(InputError):
            decode_ldr(broken, "broken.webp")
    assert capfd.readouterr() == ("", "")


def test_huge_declared_size_is_refused_before_decoding(monkeypatch, photo):
    def no_decoding(*args):
        raise AssertionError("decoded before the size was checked")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    lossy = chunks_of(webp_file(photo, quality=80))[0][1]
    big_vp8 = lossy[:6] + struct.pack("<HH", 16383, 16383) + lossy[10:]
    lossless = chunks_of(webp_file(photo))[0][1]
    (bits,) = struct.unpack_from("<I", lossless, 1)
    big_vp8l = lossless[:1] + struct.pack("<I", bits & ~0xFFF_FFFF | 16382 | 16382 << 14) + lossless[5:]
    start = time.perf_counter()
    _refused(riff([chunk(b"VP8 ", big_vp8)]), "bomb.webp", "16383x16383 pixels, more than the limit of 1,000,000",
             max_pixels=1_000_000)
    _refused(riff([chunk(b"VP8L", big_vp8l)]), "bomb.webp", "16383x16383 pixels", max_pixels=1_000_000)
    # a VP8X canvas (24 bits a side) larger than its image: refused before decoding too
    _refused(riff([vp8x(0, 1 << 24, 1 << 24), chunk(b"VP8L", lossless)]), "canvas.webp", "truncated or corrupt")
    assert time.perf_counter() - start < 0.5
    monkeypatch.undo()
    with pytest.raises(InputError, match="limit"):
        decode_ldr(webp_file(RGB8), "a.webp", max_pixels=34)
    assert decode_ldr(webp_file(RGB8), "a.webp", max_pixels=35).rgb.shape == (5, 7, 3)


def test_a_decoded_size_other_than_the_header_says_is_refused(monkeypatch, photo):
    decode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *args: decode(*args)[:-1])
    _refused(webp_file(photo), "short.webp", "truncated or corrupt WebP")


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("name", ["ref.webp", "DOWNLOAD.WEBP", "mixed.WebP"])
def test_webp_files_are_read(tmp_path, name):
    assert ".webp" in LDR_EXTENSIONS
    path = tmp_path / name
    path.write_bytes(webp_file(RGB8))
    assert read_ldr(path).rgb.shape == (5, 7, 3)
