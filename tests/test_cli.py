"""Every `fhdr` subcommand end to end through typer's CliRunner, on tiny images and random weights.

Tests pass `--weights` (conftest's random checkpoint) and never depend on the shipped file.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import zlib

import cv2
import numpy as np
import OpenEXR
import pytest
import torch
from typer.testing import CliRunner

from conftest import png_chunk, random_model
from heif_files import heif_file
from icc_profiles import P3_TO_REC709, p3_profile
from test_exif import exif_tiff
from tiff_files import exif_capture, tiff_file
from webp_files import animated_webp, webp_file

import fhdr_cli
from fhdr_cli import __version__
from fhdr_cli.evaluation.baselines import BASELINES
from fhdr_cli.cli import app
from fhdr_cli.colour.spaces import ACESCG, rec709_to
from fhdr_cli.errors import UsageError
from fhdr_cli.evaluation.evaluate import METRICS, evaluate
from fhdr_cli.io.hdr_files import read_hdr, write_hdr
from fhdr_cli.io.photo import read_ldr
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.network.checkpoint import save_checkpoint
from fhdr_cli.network.fhdr import GainCalibration
from fhdr_cli.colour.tonemap import OPERATORS

COMMANDS = ("convert", "batch", "tonemap-preview", "benchmark", "info", "train", "evaluate")
PARAMETERS = 584_003


def make_runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart by default
        return CliRunner()


runner = make_runner()


def fhdr(*args, weights=None):
    """Run `fhdr ARGS...` in-process; `weights` appends `--weights FILE`."""
    argv = [str(a) for a in args]
    if weights is not None:
        argv += ["--weights", str(weights)]
    return runner.invoke(app, argv)


def err(result) -> str:
    try:
        return result.stderr
    except ValueError:  # old click with mixed streams
        return result.output


def ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {err(result)}\n{result.exception!r}"


def write_photo(path, rgb: np.ndarray) -> None:
    """Write an RGB(A) uint8/uint16 array as JPEG/PNG/TIFF (OpenCV wants BGR order)."""
    if rgb.ndim == 3:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), rgb)


def exr_channels(path) -> dict[str, np.ndarray]:
    return {name: ch.pixels for name, ch in OpenEXR.File(str(path), separate_channels=True).channels().items()}


def exr_comments(path) -> str:
    return OpenEXR.File(str(path)).header().get("comments", "")


def no_temp_files(folder) -> bool:
    return not [p for p in folder.rglob("*") if ".tmp" in p.name]


@pytest.fixture
def jpg(tmp_path, photo):
    path = tmp_path / "photo.jpg"
    write_photo(path, photo)
    return path


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Two tiny 64x128 (2:1, panorama-shaped) HDR scenes with bright spots well above 1."""
    folder = tmp_path_factory.mktemp("scenes")
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:64, 0:128].astype(np.float32)
    for i, name in enumerate(("alpha", "beta")):
        img = np.stack([0.2 + 0.15 * np.sin(xx / 9 + i), 0.25 + 0.1 * np.cos(yy / 7), 0.2 + 0.1 * rng.random((64, 128))], -1)
        img[10:40, :] *= 0.3 + i  # darker and brighter bands
        img[20:27, 30 + 40 * i : 39 + 40 * i] = 50.0  # a sun
        img[45:50, 100:110] = 8.0  # a lamp
        write_hdr(folder / f"{name}.exr", img.astype(np.float32))
    return folder


# ---------------------------------------------------------------------------- convert


def test_convert_writes_readable_exr_with_the_photo_shape(jpg, weights_file, photo):
    out = jpg.with_name("out.exr")
    result = fhdr("convert", jpg, "-o", out, "--iterations", "1", weights=weights_file)
    ok(result)
    hdr = read_hdr(out)
    assert hdr.shape == photo.shape
    assert hdr.dtype == np.float32 and np.isfinite(hdr).all() and hdr.min() >= 0 and hdr.max() > 0
    channels = exr_channels(out)
    assert set(channels) == {"R", "G", "B"}
    assert all(c.dtype == np.float16 for c in channels.values())  # half by default
    assert err(result).strip() == f"wrote {out}"
    assert no_temp_files(out.parent)


def test_convert_default_output_name_is_input_with_exr(jpg, weights_file):
    ok(fhdr("convert", jpg, "-n", "1", weights=weights_file))
    assert read_hdr(jpg.with_suffix(".exr")).shape[:2] == (37, 53)


def test_convert_to_radiance_hdr(jpg, weights_file, photo):
    out = jpg.with_name("out.hdr")
    ok(fhdr("convert", jpg, "-o", out, "-n", "1", "--exposure", "-1.5", weights=weights_file))
    magic, primaries, comments = out.read_bytes().split(b"\n")[:3]
    assert magic == b"#?RADIANCE" and primaries == b"PRIMARIES=0.64 0.33 0.3 0.6 0.15 0.06 0.3127 0.329"
    assert comments.startswith(b"# fhdr ") and b"; source photo.jpg; iterations 1; weights sha256 " in comments
    assert comments.endswith(b"; exposure -1.5 EV")
    assert read_hdr(out).shape == photo.shape


def assert_converts_as_the_png(src, png, weights_file) -> None:
    """`fhdr convert` writes the same EXR for `src` as for `png`, a PNG of the same pixels, and names `src`."""
    outs = []
    for path in (src, png):
        out = path.with_name(f"from_{path.suffix[1:].lower()}.exr")
        result = fhdr("convert", path, "-o", out, "-n", "1", "--float32", weights=weights_file)
        ok(result)
        assert err(result).strip() == f"wrote {out}"
        outs.append(out)
    np.testing.assert_array_equal(read_hdr(outs[0]), read_hdr(outs[1]))
    assert f"; source {src.name};" in exr_comments(outs[0])


def test_convert_reads_a_tiff_as_the_same_photo_in_png(tmp_path, weights_file, photo):
    png, tif = tmp_path / "photo.png", tmp_path / "photo.tif"
    write_photo(png, photo)
    tif.write_bytes(tiff_file(photo))
    assert_converts_as_the_png(tif, png, weights_file)


def test_convert_turns_a_16bit_tiff_and_keeps_its_exposure(tmp_path, weights_file, photo):
    src = tmp_path / "plate.tiff"
    src.write_bytes(tiff_file(photo.astype(np.uint16) * 257, order=">", orientation=6, exif=exif_capture()))
    out = tmp_path / "plate.exr"
    ok(fhdr("convert", src, "-o", out, "-n", "1", weights=weights_file))
    assert read_hdr(out).shape == (photo.shape[1], photo.shape[0], 3)  # turned a quarter
    header = OpenEXR.File(str(out)).header()
    assert header["expTime"] == pytest.approx(1 / 250) and header["isoSpeed"] == 400


def test_convert_refuses_a_float_tiff_in_one_line(tmp_path, weights_file):
    src = tmp_path / "render.tif"
    src.write_bytes(tiff_file(np.ones((4, 4, 3), np.float32)))
    result = fhdr("convert", src, "-n", "1", weights=weights_file)
    assert result.exit_code == 1 and not src.with_suffix(".exr").exists()
    assert err(result).count("\n") == 1 and err(result).startswith(f"fhdr: error: {src}: floating-point TIFF")


def test_convert_reads_a_heic_as_the_png_of_its_pixels(tmp_path, weights_file, photo):
    heic = tmp_path / "IMG_0001.HEIC"
    heic.write_bytes(heif_file(photo, quality=90, chroma=420))  # as phones write them: lossy, 4:2:0
    decoded = np.round(read_ldr(heic).rgb * 255).astype(np.uint8)
    assert decoded.shape == photo.shape and np.abs(decoded.astype(int) - photo).mean() < 3
    write_photo(tmp_path / "same.png", decoded)
    assert_converts_as_the_png(heic, tmp_path / "same.png", weights_file)


def test_convert_shows_a_turned_heic_as_shot_and_keeps_its_exposure(tmp_path, weights_file, photo):
    src = tmp_path / "portrait.heic"
    src.write_bytes(heif_file(photo, exif=exif_tiff(orientation=6)))
    out = src.with_suffix(".exr")
    ok(fhdr("convert", src, "-n", "1", weights=weights_file))
    assert read_hdr(out).shape == (photo.shape[1], photo.shape[0], 3)  # turned a quarter, once
    header = OpenEXR.File(str(out)).header()
    assert header["expTime"] == pytest.approx(1 / 250) and header["isoSpeed"] == 400


def test_convert_refuses_an_hdr_heic_in_one_line(tmp_path, weights_file):
    src = tmp_path / "hdr.heic"
    src.write_bytes(heif_file(np.full((8, 8, 3), 512, np.uint16), bits=10, nclx=(9, 16)))
    result = fhdr("convert", src, "-n", "1", weights=weights_file)
    assert result.exit_code == 1 and not src.with_suffix(".exr").exists()
    assert err(result).count("\n") == 1 and err(result).startswith(f"fhdr: error: {src}: HDR HEIF (PQ transfer)")


def test_convert_reads_a_lossless_webp_as_the_png_of_its_pixels(tmp_path, weights_file, photo):
    webp = tmp_path / "reference.webp"
    webp.write_bytes(webp_file(photo))  # lossless: the very pixels of the PNG
    write_photo(tmp_path / "same.png", photo)
    assert_converts_as_the_png(webp, tmp_path / "same.png", weights_file)


def test_convert_turns_a_webp_as_shot_and_keeps_its_exposure(tmp_path, weights_file, photo):
    src = tmp_path / "portrait.webp"
    src.write_bytes(webp_file(photo, quality=90, exif=exif_tiff(orientation=6)))
    out = src.with_suffix(".exr")
    ok(fhdr("convert", src, "-n", "1", weights=weights_file))
    assert read_hdr(out).shape == (photo.shape[1], photo.shape[0], 3)  # turned a quarter, once
    header = OpenEXR.File(str(out)).header()
    assert header["expTime"] == pytest.approx(1 / 250) and header["isoSpeed"] == 400


def test_convert_refuses_an_animated_webp_in_one_line(tmp_path, weights_file, photo):
    src = tmp_path / "loop.webp"
    src.write_bytes(animated_webp([photo, 255 - photo]))
    result = fhdr("convert", src, "-n", "1", weights=weights_file)
    assert result.exit_code == 1 and not src.with_suffix(".exr").exists()
    assert err(result).count("\n") == 1 and err(result).startswith(f"fhdr: error: {src}: animated WebP")


def test_float32_writes_float_channels(jpg, weights_file):
    out = jpg.with_name("f32.exr")
    ok(fhdr("convert", jpg, "-o", out, "-n", "1", "--float32", weights=weights_file))
    channels = exr_channels(out)
    assert set(channels) == {"R", "G", "B"} and all(c.dtype == np.float32 for c in channels.values())


def test_exposure_one_stop_doubles_the_values(jpg, weights_file):
    base, brighter = jpg.with_name("ev0.exr"), jpg.with_name("ev1.exr")
    ok(fhdr("convert", jpg, "-o", base, "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("convert", jpg, "-o", brighter, "-n", "1", "--float32", "--exposure", "1", weights=weights_file))
    a, b = read_hdr(base), read_hdr(brighter)
    assert a.max() > 0
    np.testing.assert_allclose(b, 2 * a, rtol=1e-6, atol=1e-7)


def test_highlights_brighten_the_clipped_lamp_in_convert_and_batch_alike_and_are_recorded(photo, weights_file, tmp_path):
    (tmp_path / "in").mkdir()
    png = tmp_path / "in" / "photo.png"  # lossless: the lamp stays exactly 255
    write_photo(png, photo)
    base, bright = tmp_path / "h1.exr", tmp_path / "h2.hdr"
    ok(fhdr("convert", png, "-o", base, "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("convert", png, "-o", bright, "-n", "1", "--highlights", "2", weights=weights_file))
    assert bright.read_bytes().split(b"\n")[2].endswith(b"; highlights x2")
    out_dir = tmp_path / "batch_out"
    ok(fhdr("batch", png.parent, out_dir, "-n", "1", "--float32", "--highlights", "2", weights=weights_file))
    a, b = read_hdr(base), read_hdr(out_dir / "photo.exr")
    lamp = np.s_[5:15, 30:45]  # clipped in the photo: the log gain there doubles
    np.testing.assert_allclose(np.log(b[lamp]), 2 * np.log(a[lamp]), atol=1e-4)  # sRGB decoding of 255 is 1
    assert not np.allclose(a[lamp], b[lamp])
    np.testing.assert_allclose(read_hdr(bright)[lamp], b[lamp], rtol=0.02)  # .hdr: 8-bit mantissas


def test_highlights_out_of_range_exit_2_in_one_line(jpg, weights_file):
    result = fhdr("convert", jpg, "-o", jpg.with_name("no.exr"), "--highlights", "5", weights=weights_file)
    assert result.exit_code == 2 and not jpg.with_name("no.exr").exists()
    assert err(result).strip().count("\n") == 0 and "--highlights must be 0..3" in err(result)


def test_refuses_to_overwrite_and_keeps_the_old_bytes(jpg, weights_file):
    out = jpg.with_name("taken.exr")
    out.write_bytes(b"precious old bytes")
    result = fhdr("convert", jpg, "-o", out, "-n", "1", weights=weights_file)
    assert result.exit_code == 2
    assert "--overwrite" in err(result) and str(out) in err(result)
    assert out.read_bytes() == b"precious old bytes"
    assert no_temp_files(out.parent)
    ok(fhdr("convert", jpg, "-o", out, "-n", "1", "--overwrite", weights=weights_file))
    assert read_hdr(out).shape[:2] == (37, 53)


@pytest.mark.parametrize("name", ["out.tiff", "out.png", "out"])
def test_unwritable_extension_is_a_usage_error(jpg, weights_file, name):
    out = jpg.with_name(name)
    result = fhdr("convert", jpg, "-o", out, "-n", "1", weights=weights_file)
    assert result.exit_code == 2
    lines = err(result).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fhdr: error:") and str(out) in lines[0]
    assert not out.exists()


def test_rgba_input_keeps_alpha_as_the_exr_a_channel(tmp_path, weights_file, photo):
    alpha = np.tile(np.linspace(0, 255, photo.shape[1]).astype(np.uint8), (photo.shape[0], 1))
    src = tmp_path / "rgba.png"
    write_photo(src, np.dstack([photo, alpha]))
    out = tmp_path / "rgba.exr"
    ok(fhdr("convert", src, "-o", out, "-n", "1", weights=weights_file))
    channels = exr_channels(out)
    assert set(channels) == {"R", "G", "B", "A"}
    a = channels["A"].astype(np.float32)
    np.testing.assert_allclose(a, alpha / 255.0, atol=1e-3)
    # the network saw the straight colour; the EXR holds it premultiplied, as compositors expect
    write_photo(tmp_path / "rgb.png", photo)
    ok(fhdr("convert", tmp_path / "rgb.png", "-o", tmp_path / "rgb.exr", "-n", "1", weights=weights_file))
    straight = exr_channels(tmp_path / "rgb.exr")
    for name in "RGB":
        np.testing.assert_allclose(channels[name].astype(np.float32), straight[name].astype(np.float32) * a,
                                   rtol=2e-3, atol=1e-4)
    assert channels["R"][:, 0].max() == 0.0  # alpha 0 in the first column
    # .hdr cannot hold alpha: still converts
    ok(fhdr("convert", src, "-o", tmp_path / "rgba.hdr", "-n", "1", weights=weights_file))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_is_a_one_line_usage_error(jpg, weights_file):
    out = jpg.with_name("cuda.exr")
    result = fhdr("convert", jpg, "-o", out, "--device", "cuda", weights=weights_file)
    assert result.exit_code == 2
    assert err(result).count("\n") == 1 and "cuda" in err(result).lower()
    assert "Traceback" not in result.output + err(result)
    assert not out.exists()


def test_half_on_cpu_is_a_usage_error(jpg, weights_file):
    out = jpg.with_name("half.exr")
    result = fhdr("convert", jpg, "-o", out, "--device", "cpu", "--half", weights=weights_file)
    assert result.exit_code == 2
    assert err(result).count("\n") == 1 and "--half" in err(result)
    assert not out.exists()


@pytest.mark.parametrize("option", [["--tile", "8"], ["--threads", "0"], ["--device", "tpu"], ["--iterations", "5"],
                                    ["--colour-space", "srgb"]])
def test_bad_option_values_are_usage_errors(jpg, weights_file, option):
    out = jpg.with_name("bad.exr")
    result = fhdr("convert", jpg, "-o", out, *option, weights=weights_file)
    assert result.exit_code == 2
    assert "Traceback" not in result.output + err(result)
    assert not out.exists()


def test_wrap_runs_a_panorama_around_its_sides_in_convert_and_batch(tmp_path, weights_file, photo):
    (tmp_path / "in").mkdir()
    write_photo(tmp_path / "in" / "pano.png", photo)
    wrapped = Converter.load(weights=weights_file, device="cpu", iterations=1, wrap=True)(photo)
    ok(fhdr("convert", tmp_path / "in" / "pano.png", "-o", tmp_path / "pano.exr", "-n", "1", "--wrap", "--float32",
            "--device", "cpu", weights=weights_file))  # the reference ran on the CPU: so must these
    ok(fhdr("batch", tmp_path / "in", tmp_path / "out", "-n", "1", "--wrap", "--float32", "--device", "cpu",
            weights=weights_file))
    for out in (tmp_path / "pano.exr", tmp_path / "out" / "pano.exr"):
        assert np.abs(read_hdr(out) - np.maximum(wrapped, 0)).max() <= 1e-5
        assert exr_comments(out).endswith("; 360-degree wrap")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_float32_output_equals_the_cpus(weights_file, photo):
    # cuDNN would use TF32 (10-bit mantissa) for fp32 convolutions by default: 4e-4 off on an H200
    for iterations in (1, 4):
        cpu = Converter.load(weights=weights_file, device="cpu", iterations=iterations)(photo)
        cuda = Converter.load(weights=weights_file, device="cuda", iterations=iterations)(photo)
        assert np.abs(cuda - cpu).max() <= 1e-5 * max(1.0, float(cpu.max()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_compiled_network_gives_the_eager_result(weights_file, photo):
    eager = Converter.load(weights=weights_file, device="cuda", iterations=4)(photo)
    compiled = Converter.load(weights=weights_file, device="cuda", iterations=4, compile=True)(photo)
    assert np.abs(compiled - eager).max() <= 1e-4 * max(1.0, float(eager.max()))


def test_compile_without_cuda_is_a_usage_error(tmp_path, weights_file, photo):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    write_photo(tmp_path / "a.png", photo)
    for args in (("batch", tmp_path, tmp_path / "out"), ("benchmark", "--size", "8")):  # convert: one photo never pays
        result = fhdr(*args, "--compile", weights=weights_file)
        assert result.exit_code == 2, err(result)
        assert err(result).strip() == "fhdr: error: --compile needs --device cuda (on the CPU the fused engine beats compiled code)"


def test_a_display_p3_photo_comes_out_in_rec709_from_convert_and_batch(tmp_path, weights_file, photo):
    png = cv2.imencode(".png", photo[:, :, ::-1])[1].tobytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "plain.png").write_bytes(png)
    (tmp_path / "in" / "p3.png").write_bytes(png[:33] + png_chunk(b"iCCP", b"P3\0\0" + zlib.compress(p3_profile())) + png[33:])
    ok(fhdr("convert", tmp_path / "plain.png", "-o", tmp_path / "plain.exr", "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("convert", tmp_path / "in" / "p3.png", "-o", tmp_path / "p3.exr", "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("batch", tmp_path / "in", tmp_path / "out", "-n", "1", "--float32", weights=weights_file))
    plain = read_hdr(tmp_path / "plain.exr")
    expected = np.maximum(plain @ np.array(P3_TO_REC709, np.float32).T, 0)  # the writer clips below zero
    for out in (tmp_path / "p3.exr", tmp_path / "out" / "p3.exr"):
        p3 = read_hdr(out)
        assert np.abs(p3 - expected).max() <= 3e-3 * max(1.0, float(plain.max()))
        assert np.abs(p3 - plain).max() > 0.01  # the conversion did something
        assert "source p3.png; iterations 1;" in exr_comments(out)
        assert exr_comments(out).endswith("; colour profile Display P3")
    assert "colour profile" not in exr_comments(tmp_path / "plain.exr")


def test_acescg_output_is_converted_and_tagged_in_exr_and_radiance(jpg, weights_file):
    ok(fhdr("convert", jpg, "-o", jpg.with_name("709.exr"), "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("convert", jpg, "-o", jpg.with_name("ap1.exr"), "-n", "1", "--float32", "--colour-space", "acescg",
            weights=weights_file))
    ok(fhdr("convert", jpg, "-o", jpg.with_name("ap1.hdr"), "-n", "1", "--color-space", "acescg", weights=weights_file))
    rec709 = read_hdr(jpg.with_name("709.exr"))
    ap1 = np.dstack([exr_channels(jpg.with_name("ap1.exr"))[c] for c in "RGB"])
    np.testing.assert_allclose(ap1, rec709 @ rec709_to(ACESCG).T.astype(np.float32), rtol=1e-4, atol=1e-5)
    # readers take declared primaries back to Rec.709 (RGBE: to ~1 % of a pixel's largest component)
    np.testing.assert_allclose(read_hdr(jpg.with_name("ap1.exr")), rec709, rtol=1e-4, atol=1e-5)
    assert (np.abs(read_hdr(jpg.with_name("ap1.hdr")) - rec709) <= 0.02 * rec709.max(axis=2, keepdims=True) + 1e-5).all()
    header = OpenEXR.File(str(jpg.with_name("ap1.exr"))).header()
    np.testing.assert_allclose(header["chromaticities"], ACESCG.chromaticities, atol=1e-6)
    assert header["comments"].endswith("; output acescg")
    primaries = jpg.with_name("ap1.hdr").read_bytes().split(b"\n")[1]
    assert primaries == b"PRIMARIES=0.713 0.293 0.165 0.83 0.128 0.044 0.32168 0.33767"
    ok(fhdr("batch", jpg.parent, jpg.parent / "out", "-n", "1", "--float32", "--colour-space", "acescg",
            weights=weights_file))
    np.testing.assert_allclose(np.dstack([exr_channels(jpg.parent / "out" / "photo.exr")[c] for c in "RGB"]), ap1, rtol=1e-6)
    batch_header = OpenEXR.File(str(jpg.parent / "out" / "photo.exr")).header()
    np.testing.assert_allclose(batch_header["chromaticities"], ACESCG.chromaticities, atol=1e-6)


def test_convert_suggests_wrap_for_what_looks_like_a_panorama(tmp_path, weights_file):
    x = np.arange(64) / 64
    around = np.broadcast_to((127 + 100 * np.sin(2 * np.pi * x))[None, :, None], (32, 64, 3)).astype(np.uint8)
    ramp = np.broadcast_to((x * 255)[None, :, None], (32, 64, 3)).astype(np.uint8)  # its sides do not meet
    for name, image in (("around.png", around), ("ramp.png", ramp)):
        write_photo(tmp_path / name, np.ascontiguousarray(image))
    hinted = fhdr("convert", tmp_path / "around.png", "-n", "1", weights=weights_file)
    ok(hinted)
    assert "note: around.png looks like a 360-degree panorama" in err(hinted) and "--wrap" in err(hinted)
    for args in (("around.png", "--wrap", "--overwrite"), ("ramp.png",)):
        quiet = fhdr("convert", tmp_path / args[0], "-n", "1", *args[1:], weights=weights_file)
        ok(quiet)
        assert "note:" not in err(quiet)
    batch = fhdr("batch", tmp_path, tmp_path / "out", "-n", "1", weights=weights_file)
    ok(batch)
    assert "note: 1 of the photos look like 360-degree panoramas" in err(batch) and "around.png" in err(batch)
    wrapped = fhdr("batch", tmp_path, tmp_path / "wrapped", "-n", "1", "--wrap", weights=weights_file)
    ok(wrapped)
    assert "note:" not in err(wrapped)


# ---------------------------------------------------------------------------- batch


@pytest.fixture
def tree(tmp_path, photo, monkeypatch):
    """in/ with photos at three depths plus a non-photo; the cwd is tmp_path (short paths in tables)."""
    monkeypatch.chdir(tmp_path)
    small = photo[:24, :32]
    (tmp_path / "in" / "sub" / "deeper").mkdir(parents=True)
    write_photo(tmp_path / "in" / "IMG_1.jpg", small)
    write_photo(tmp_path / "in" / "other.png", small)
    write_photo(tmp_path / "in" / "sub" / "IMG_2.JPG", small)
    write_photo(tmp_path / "in" / "sub" / "deeper" / "IMG_3.png", small[:, :, 0])
    (tmp_path / "in" / "notes.txt").write_text("not a photo")
    return tmp_path


def outputs(folder, ext=".exr"):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(f"*{ext}"))


def summary_counts(stdout: str) -> tuple[int, int, int]:
    """(converted, skipped, failed) from the summary table."""
    match = re.search(r"│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", stdout)
    assert match, stdout
    return tuple(int(v) for v in match.groups())


def test_batch_mirrors_a_nested_tree_with_recursive(tree, weights_file):
    result = fhdr("batch", "in", "out", "--recursive", "-n", "1", weights=weights_file)
    ok(result)
    assert outputs(tree / "out") == ["IMG_1.exr", "other.exr", "sub/IMG_2.exr", "sub/deeper/IMG_3.exr"]
    assert read_hdr(tree / "out" / "sub" / "deeper" / "IMG_3.exr").shape == (24, 32, 3)
    assert summary_counts(result.stdout) == (4, 0, 0)
    assert no_temp_files(tree / "out")


def test_batch_without_recursive_stays_at_the_top(tree, weights_file):
    ok(fhdr("batch", "in", "out", "-n", "1", weights=weights_file))
    assert outputs(tree / "out") == ["IMG_1.exr", "other.exr"]


def test_batch_pattern_and_hdr_format(tree, weights_file):
    result = fhdr("batch", "in", "out", "-r", "--pattern", "IMG_*", "--format", "hdr", "-n", "1", weights=weights_file)
    ok(result)
    assert outputs(tree / "out", ".hdr") == ["IMG_1.hdr", "sub/IMG_2.hdr", "sub/deeper/IMG_3.hdr"]
    assert outputs(tree / "out", ".exr") == []
    assert read_hdr(tree / "out" / "sub" / "IMG_2.hdr").shape == (24, 32, 3)


def test_batch_goes_on_past_a_bad_file_and_reports_it(tree, weights_file):
    (tree / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    result = fhdr("batch", "in", "out", "-n", "1", weights=weights_file)
    assert result.exit_code == 1
    assert outputs(tree / "out") == ["IMG_1.exr", "other.exr"]
    assert summary_counts(result.stdout) == (2, 0, 1)
    assert "broken.jpg" in result.stdout and "corrupt" in result.stdout  # the failures table
    failed = [line.split("] ", 1)[1] for line in err(result).splitlines() if "] failed:" in line]
    assert failed == ["failed: in/broken.jpg: truncated or corrupt JPEG (its data ends early or does not decode)"]
    assert "Traceback" not in result.stdout + err(result)


def test_batch_skip_existing_converts_exactly_the_missing_files(tree, weights_file):
    ok(fhdr("batch", "in", "out", "-r", "-n", "1", weights=weights_file))
    out = tree / "out"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*.exr")}
    (out / "sub" / "IMG_2.exr").unlink()
    result = fhdr("batch", "in", "out", "-r", "--skip-existing", "-n", "1", weights=weights_file)
    ok(result)
    assert summary_counts(result.stdout) == (1, 3, 0)
    for path, (mtime, data) in before.items():
        if path.name != "IMG_2.exr":
            assert path.stat().st_mtime_ns == mtime and path.read_bytes() == data
    assert read_hdr(out / "sub" / "IMG_2.exr").shape == (24, 32, 3)
    # without --skip-existing or --overwrite, existing outputs are failures, never replaced
    result = fhdr("batch", "in", "out", "-r", "-n", "1", weights=weights_file)
    assert result.exit_code == 1 and summary_counts(result.stdout) == (0, 0, 4)


def test_batch_overwrite_and_skip_existing_exclude_each_other(tree, weights_file):
    result = fhdr("batch", "in", "out", "--overwrite", "--skip-existing", weights=weights_file)
    assert result.exit_code == 2 and err(result).startswith("fhdr: error:") and err(result).count("\n") == 1


def test_batch_photos_sharing_an_output_name_never_overwrite_each_other(tree, weights_file, photo):
    write_photo(tree / "in" / "IMG_1.png", np.zeros((8, 8, 3), np.uint8))  # IMG_1.jpg -> IMG_1.exr too
    result = fhdr("batch", "in", "out", "--overwrite", "-n", "1", weights=weights_file)
    assert result.exit_code == 1
    assert summary_counts(result.stdout) == (2, 0, 1)
    assert read_hdr(tree / "out" / "IMG_1.exr").shape == (24, 32, 3)  # the .jpg's, not the 8x8 .png's
    assert "failed: in/IMG_1.png: same output" in err(result)


@pytest.mark.parametrize("args", [["missing", "out"], ["in/IMG_1.jpg", "out"], ["in", "in/IMG_1.jpg"], ["in", "out", "--format", "png"]])
def test_batch_usage_errors(tree, weights_file, args):
    result = fhdr("batch", *args, weights=weights_file)
    assert result.exit_code == 2
    assert err(result).startswith("fhdr: error:") and err(result).count("\n") == 1


@pytest.mark.parametrize("files, deep", [
    ({"scan.tif": lambda p: tiff_file(p), "PLATE.TIFF": lambda p: tiff_file(p.astype(np.uint16) * 257)}, "PLATE"),
    ({"IMG_0002.HEIC": lambda p: heif_file(p, quality=90, chroma=420), "scan.heif": lambda p: heif_file(p),
      "canon.hif": lambda p: heif_file(p.astype(np.uint16) * 4, bits=10)}, "canon"),
    ({"ref.webp": lambda p: webp_file(p), "DOWNLOAD.WEBP": lambda p: webp_file(np.dstack([p, p[..., :1]]), 80)}, "ref"),
], ids=["tiff", "heif", "webp"])
def test_batch_picks_up_tiff_heif_and_webp_files(tmp_path, weights_file, photo, files, deep):
    (tmp_path / "in").mkdir()
    small = photo[:24, :32]
    for name, make in files.items():
        (tmp_path / "in" / name).write_bytes(make(small))
    write_photo(tmp_path / "in" / "other.png", small)
    (tmp_path / "in" / "notes.txt").write_text("not a photo")
    (tmp_path / "in" / "clip.mov").write_bytes(b"not a photo")
    result = fhdr("batch", tmp_path / "in", tmp_path / "out", "-n", "1", weights=weights_file)
    ok(result)
    stems = sorted(name.rsplit(".", 1)[0] for name in files)
    assert outputs(tmp_path / "out") == sorted([f"{stem}.exr" for stem in stems] + ["other.exr"])
    assert summary_counts(result.stdout) == (len(files) + 1, 0, 0)
    assert read_hdr(tmp_path / "out" / f"{deep}.exr").shape == (24, 32, 3)


def test_batch_of_an_empty_folder_says_so(tmp_path, weights_file):
    (tmp_path / "empty").mkdir()
    result = fhdr("batch", tmp_path / "empty", tmp_path / "out", weights=weights_file)
    ok(result)
    assert "no JPEG/PNG/TIFF/HEIC/WebP files" in err(result)


# ---------------------------------------------------------------------------- tonemap-preview


@pytest.fixture
def hdr_file(tmp_path):
    yy, xx = np.mgrid[0:24, 0:40].astype(np.float32)
    img = np.stack([xx / 10, yy / 10, np.full_like(xx, 0.5)], -1)
    img[5:10, 5:10] = 30.0
    path = tmp_path / "scene.exr"
    write_hdr(path, img)
    return path


def _png_shape(path):
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape


@pytest.mark.parametrize("operator", list(OPERATORS))
def test_tonemap_preview_each_operator_writes_a_png(hdr_file, operator):
    out = hdr_file.with_name(f"{operator}.png")
    ok(fhdr("tonemap-preview", hdr_file, "-o", out, "--operator", operator))
    assert _png_shape(out)[:2] == (24, 40)


def test_tonemap_preview_strip_writes_one_wide_png(hdr_file):
    out = hdr_file.with_name("strip.png")
    ok(fhdr("tonemap-preview", hdr_file, "-o", out, "--strip"))
    height, width = _png_shape(out)[:2]
    assert height >= 24 and width >= 5 * 40


def test_tonemap_preview_reads_radiance_hdr_too(hdr_file):
    src = hdr_file.with_name("scene.hdr")
    write_hdr(src, read_hdr(hdr_file))
    out = hdr_file.with_name("from_hdr.png")
    ok(fhdr("tonemap-preview", src, "-o", out))
    assert _png_shape(out)[:2] == (24, 40)


@pytest.mark.parametrize("name", ["preview.jpg", "preview.exr", "preview"])
def test_tonemap_preview_needs_a_png_output(hdr_file, name):
    out = hdr_file.with_name(name)
    result = fhdr("tonemap-preview", hdr_file, "-o", out)
    assert result.exit_code == 2 and err(result).count("\n") == 1 and ".png" in err(result)
    assert not out.exists()


def test_tonemap_preview_usage_errors(hdr_file):
    assert fhdr("tonemap-preview", hdr_file, "-o", hdr_file.with_name("p.png"), "--operator", "nope").exit_code == 2
    assert fhdr("tonemap-preview", hdr_file.with_name("missing.exr"), "-o", hdr_file.with_name("p.png")).exit_code == 2
    assert fhdr("tonemap-preview", hdr_file, "-o", hdr_file.with_name("nodir") / "p.png").exit_code == 2
    taken = hdr_file.with_name("taken.png")
    taken.write_bytes(b"old")
    assert fhdr("tonemap-preview", hdr_file, "-o", taken).exit_code == 2
    assert taken.read_bytes() == b"old"
    ok(fhdr("tonemap-preview", hdr_file, "-o", taken, "--overwrite"))
    assert _png_shape(taken)[:2] == (24, 40)


# ---------------------------------------------------------------------------- benchmark, info


def test_benchmark_json_has_the_documented_fields(weights_file):
    result = fhdr("benchmark", "--device", "cpu", "--size", "32", "--iterations", "1", "--json", weights=weights_file)
    ok(result)
    report = json.loads(result.stdout)
    for key in ("device", "threads", "size", "half", "conv_peak_gflops", "flops_per_pixel", "runs"):
        assert key in report, key
    assert report["device"] == "cpu" and report["half"] is False and report["threads"] >= 1
    assert list(report["size"]) == [32, 32]
    assert report["conv_peak_gflops"] > 0
    assert list(report["flops_per_pixel"]) == ["1"] and report["flops_per_pixel"]["1"] > 0
    (run,) = report["runs"]
    assert run["iterations"] == 1
    for key in ("seconds", "megapixels_per_s", "ms_per_megapixel", "gflops_per_s", "fraction_of_peak",
                "tiling_overhead", "tile", "peak_memory_mib"):
        assert run[key] > 0, key
    assert run["tiling_overhead"] >= 1.0


@pytest.mark.parametrize("size", ["0", "32x0", "abc", "32x-4"])
def test_benchmark_bad_size_is_a_usage_error(weights_file, size):
    result = fhdr("benchmark", "--size", size, "--iterations", "1", weights=weights_file)
    assert result.exit_code == 2
    assert "Traceback" not in result.output + err(result)


def test_info_prints_the_parameter_count(weights_file):
    result = fhdr("info", weights=weights_file)
    ok(result)
    assert f"{PARAMETERS:,}" in result.stdout  # 584,003
    assert str(weights_file.name) in result.stdout


def test_info_json(weights_file):
    result = fhdr("info", "--json", weights=weights_file)
    ok(result)
    info = json.loads(result.stdout)
    assert info["parameters"] == PARAMETERS
    assert len(info["sha256"]) == 64
    assert info["receptive_radius"] == {"1": 29, "2": 54, "3": 79, "4": 104}
    assert info["training"]["note"] == "random weights for tests"


# ---------------------------------------------------------------------------- evaluate, train


def test_evaluate_json_has_every_method_and_metric(scenes, weights_file):
    result = fhdr("evaluate", "--hdr", scenes, "--views", "1", "--size", "48", "--iterations", "1", "--json",
                  "--device", "cpu", weights=weights_file)
    ok(result)
    report = json.loads(result.stdout)
    assert report["scenes"] == ["alpha", "beta"] and report["skipped_trained"] == []
    assert report["views_per_scene"] == 1 and report["size"] == 48
    assert set(report["results"]) == {"fhdr n=1", *BASELINES}
    for method, row in report["results"].items():
        assert set(row) == set(METRICS), method
        assert row["psnr_mu"] > 0 and 0 < row["ssim_mu"] <= 1 and row["hdr_flip"] >= 0
        per_scene = [report["per_scene"][scene][method]["hdr_flip"] for scene in ("alpha", "beta")]
        assert row["hdr_flip"] == pytest.approx(sum(per_scene) / 2)  # one view per scene
    assert set(report["per_scene"]) == {"alpha", "beta"}


def test_evaluate_without_baselines_scores_the_model_alone(scenes, weights_file):
    kwargs = dict(weights=weights_file, iterations=(1,), views_per_scene=1, size=48, device="cpu")
    alone, both = evaluate(scenes, baselines=False, **kwargs), evaluate(scenes, **kwargs)
    assert set(alone.rows) == {"fhdr n=1"} and set(both.rows) == {"fhdr n=1", *BASELINES}
    assert alone.rows["fhdr n=1"] == pytest.approx(both.rows["fhdr n=1"], nan_ok=True)  # nan: no light in view


def test_evaluate_scores_each_highlights_factor_as_its_own_row(scenes, weights_file):
    result = fhdr("evaluate", "--hdr", scenes, "--views", "1", "--size", "48", "--iterations", "1", "--json",
                  "--device", "cpu", "--highlights", "1,2.5", weights=weights_file)
    ok(result)
    rows = json.loads(result.stdout)["results"]
    assert set(rows) == {"fhdr n=1", "fhdr n=1 highlights x2.5", *BASELINES}
    plain, brighter = rows["fhdr n=1"], rows["fhdr n=1 highlights x2.5"]
    assert plain["psnr_mu_clipped"] != brighter["psnr_mu_clipped"]  # the clipped spots changed
    for bad in ("a", "9"):
        result = fhdr("evaluate", "--hdr", scenes, "--highlights", bad, weights=weights_file)
        assert result.exit_code == 2 and "Traceback" not in result.output + err(result)


def test_evaluate_usage_errors(tmp_path, weights_file):
    assert fhdr("evaluate", "--hdr", tmp_path / "missing", weights=weights_file).exit_code == 2
    (tmp_path / "empty").mkdir()
    result = fhdr("evaluate", "--hdr", tmp_path / "empty", "--iterations", "1", weights=weights_file)
    assert result.exit_code == 2 and "Traceback" not in result.output + err(result)


def test_train_writes_a_checkpoint_that_loads_and_resumes(scenes, tmp_path):
    first = tmp_path / "run" / "first.pt"
    common = ["--data", scenes, "--patch", "32", "--batch", "2", "--iterations", "1", "--checkpoint-minutes", "0",
              "--val-scenes", "beta", "--device", "cpu", "--threads", "1"]
    ok(fhdr("train", *common, "--out", first, "--minutes", "0.05", "--select", "flip", "--precision", "fp32",
            "--glare-probability", "0.5"))
    assert first.is_file() and first.with_suffix(".csv").is_file()
    log = first.with_suffix(".csv").read_text().splitlines()
    assert log[0] == "step,elapsed_s,iterations,loss,val_loss,val_flip"
    val_flip = float(log[-1].split(",")[-1])  # validated at every step (--checkpoint-minutes 0)
    assert 0 < val_flip < 1
    best = torch.load(first.with_suffix(".best.pt"), weights_only=True)
    assert best["best_val_measure"] == "flip" and best["best_val"] <= val_flip

    result = fhdr("info", "--json", "--weights", first)
    ok(result)
    info = json.loads(result.stdout)
    assert info["parameters"] == PARAMETERS
    steps = info["training"]["steps"]
    assert steps >= 1 and len(info["phases"]) == 1
    assert info["phases"][0]["steps"] == steps and info["phases"][0]["glare_probability"] == 0.5

    second = tmp_path / "run" / "second.pt"
    # batches simulated in a worker process this time
    ok(fhdr("train", *common, "--out", second, "--minutes", "0.01", "--resume", first, "--workers", "1",
            "--precision", "bf16", "--val-patch", "48"))
    info2 = json.loads(fhdr("info", "--json", "--weights", second).stdout)
    assert [p["precision"] for p in info2["phases"]] == ["fp32", "bf16"]
    assert [p["val_patch"] for p in info2["phases"]] == [96, 48]
    # scores on other crops are not comparable: the resumed run starts its own best
    assert torch.load(second.with_suffix(".best.pt"), weights_only=True)["best_val_patch"] == 48
    assert info2["training"]["steps"] > steps  # the step count continues
    assert len(info2["phases"]) == 2 and info2["phases"][1]["start_step"] == steps
    assert torch.load(second, weights_only=True)["step"] == info2["training"]["steps"]

    # the scene it trained on is skipped by evaluate; the held-out one is evaluated
    result = fhdr("evaluate", "--hdr", scenes, "--views", "1", "--size", "48", "--iterations", "1", "--json",
                  "--device", "cpu", "--weights", second)
    ok(result)
    report = json.loads(result.stdout)
    assert report["skipped_trained"] == ["alpha"] and report["scenes"] == ["beta"]


def test_train_refuses_to_resume_calibrated_weights(scenes, tmp_path):
    model = random_model()
    model.gain_calibration = GainCalibration(well_exposed=0.5, near_clipped=1.0)
    save_checkpoint(tmp_path / "calibrated.pt", model, {"phases": []})
    result = fhdr("train", "--data", scenes, "--val-scenes", "beta", "--device", "cpu", "--minutes", "0.01",
                  "--resume", tmp_path / "calibrated.pt", "--out", tmp_path / "run.pt")
    assert result.exit_code == 2 and "resume the uncalibrated checkpoint" in err(result)
    assert "Traceback" not in err(result) and not (tmp_path / "run.pt").exists()


def test_train_reads_several_data_folders(scenes, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(scenes / "alpha.exr", more / "gamma.exr")
    out = tmp_path / "run.pt"
    ok(fhdr("train", "--data", scenes, "--data", more, "--val-scenes", "beta", "--out", out, "--patch", "32",
            "--batch", "1", "--iterations", "1", "--minutes", "0", "--device", "cpu", "--threads", "1",
            "--data-weight", "1", "--data-weight", "3"))
    phase = torch.load(out, weights_only=True)["training"]["phases"][0]
    assert phase["train_scenes"] == ["alpha", "gamma"] and phase["val_scenes"] == ["beta"]
    assert phase["data_weights"] == {str(scenes): 1.0, str(more): 3.0}
    result = fhdr("train", "--data", scenes, "--data", more, "--val-scenes", "beta", "--out", tmp_path / "x.pt",
                  "--data-weight", "1")
    assert result.exit_code == 2 and "1 weights for 2 --data folders" in err(result) and not (tmp_path / "x.pt").exists()

    result = fhdr("train", "--data", scenes, "--data", scenes, "--out", tmp_path / "x.pt")
    assert result.exit_code == 2 and "unique" in err(result) and "alpha" in err(result)


def test_train_usage_errors(scenes, tmp_path):
    assert fhdr("train", "--data", tmp_path / "missing", "--out", tmp_path / "x.pt").exit_code == 2
    result = fhdr("train", "--data", scenes, "--out", tmp_path / "x.pt", "--val-scenes", "alpha,beta")
    assert result.exit_code == 2 and "no .exr/.hdr training scenes" in err(result)
    assert not (tmp_path / "x.pt").exists()
    result = fhdr("train", "--data", scenes, "--out", tmp_path / "x.pt", "--val-scenes", "beta", "--select", "psnr")
    assert result.exit_code == 2 and "--select" in err(result)
    result = fhdr("train", "--data", scenes, "--out", tmp_path / "x.pt", "--val-scenes", "beta", "--precision", "fp16")
    assert result.exit_code == 2 and "--precision" in err(result)
    assert not (tmp_path / "x.pt").exists()


# ---------------------------------------------------------------------------- help, version


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command):
    result = fhdr(*([command] if command else []), "--help")
    ok(result)
    assert "Usage:" in result.stdout
    if command is None:
        for name in COMMANDS:
            assert name in result.stdout


def test_version():
    result = fhdr("--version")
    ok(result)
    assert result.stdout.strip() == f"fhdr {__version__}"


def test_no_arguments_shows_help():
    result = fhdr()
    assert "Usage:" in result.output + err(result)


def test_python_dash_m_version():
    proc = subprocess.run([sys.executable, "-m", "fhdr_cli", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fhdr {__version__}"


def test_memory_budget_option_gives_the_same_result_and_refuses_nonsense(jpg, weights_file):
    default, small = jpg.with_name("default.exr"), jpg.with_name("small.exr")
    ok(fhdr("convert", jpg, "-o", default, "-n", "1", "--float32", weights=weights_file))
    ok(fhdr("convert", jpg, "-o", small, "-n", "1", "--float32", "--memory", "300M", weights=weights_file))
    np.testing.assert_allclose(read_hdr(small), read_hdr(default), atol=1e-4)  # exact tiling either way
    for bad in ("lots", "8X", "100M"):
        result = fhdr("convert", jpg, "-o", jpg.with_name(f"{bad}.exr"), "--memory", bad, weights=weights_file)
        assert result.exit_code == 2 and "--memory" in err(result), bad
        assert not jpg.with_name(f"{bad}.exr").exists()


@pytest.mark.parametrize("text, size", [("800M", 800 << 20), ("8G", 8 << 30), ("1.5GiB", 3 << 29), ("2g", 2 << 30)])
def test_memory_sizes_use_binary_units(text, size):
    from fhdr_cli.commands import _memory_bytes

    assert _memory_bytes(text) == size


def test_python_api_convert_file_does_what_the_cli_does(tmp_path, weights_file, photo):
    png = cv2.imencode(".png", photo[:, :, ::-1])[1].tobytes()
    (tmp_path / "p3.png").write_bytes(png[:33] + png_chunk(b"iCCP", b"P3\0\0" + zlib.compress(p3_profile())) + png[33:])
    ok(fhdr("convert", tmp_path / "p3.png", "-o", tmp_path / "cli.exr", "-n", "1", "--colour-space", "acescg",
            "--device", "cpu", weights=weights_file))
    converter = fhdr_cli.Converter.load(weights=weights_file, device="cpu", iterations=1, colour_space="acescg")
    fhdr_cli.convert_file(str(tmp_path / "p3.png"), str(tmp_path / "api.exr"), converter)  # plain strings work
    assert np.array_equal(read_hdr(tmp_path / "api.exr"), read_hdr(tmp_path / "cli.exr"))
    assert exr_comments(tmp_path / "api.exr") == exr_comments(tmp_path / "cli.exr")
    with pytest.raises(UsageError, match="already exists"):
        fhdr_cli.convert_file(tmp_path / "p3.png", tmp_path / "api.exr", converter)


def test_evaluate_table_shows_light_and_shadows_and_says_n_a_where_nothing_was_measured(scenes, weights_file, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    photo = np.full((40, 60, 3), 0.3, np.float32)  # a flat HDR photograph, evaluated whole: no light in view
    write_hdr(flat / "wall.exr", photo)
    result = fhdr("evaluate", "--hdr", flat, "--views", "1", "--iterations", "1", "--device", "cpu", weights=weights_file)
    ok(result)
    assert "light err" in result.stdout and "with source" in result.stdout
    assert "n/a" in result.stdout and not re.search(r"\bnan\b", result.stdout)
    report = json.loads(fhdr("evaluate", "--hdr", flat, "--views", "1", "--iterations", "1", "--device", "cpu",
                             "--json", weights=weights_file).stdout)
    assert set(report["shadows_by_curve"]["fhdr n=1"]) <= {"srgb", "gamma", "dorf"}
    assert math.isnan(report["results"]["srgb-decode"]["light_error_sources"])
