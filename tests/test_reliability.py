"""Bad inputs, odd-but-valid inputs and interruptions, all through the `fhdr` CLI.

A bad input must give its exit code (2 usage, 1 failed conversion), exactly one line on stderr
naming the file, no traceback, and no output file (temporary files included).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import encode, handmade_png
from fhdr_cli.cli import app
from fhdr_cli.io.hdr_files import read_hdr

try:
    runner = CliRunner(mix_stderr=False)
except TypeError:  # click >= 8.2 keeps stderr apart by default
    runner = CliRunner()

LINUX = sys.platform.startswith("linux")
SUBPROCESS_ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def fhdr(*args):
    return runner.invoke(app, [str(a) for a in args])


def err(result) -> str:
    try:
        return result.stderr
    except ValueError:  # old click with mixed streams
        return result.output


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_one_line_error(result, code: int, *names: str) -> str:
    text = err(result)
    assert result.exit_code == code, f"exit {result.exit_code}: {text!r} {result.exception!r}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert text.endswith("\n") and text.count("\n") == 1, f"not one line: {text!r}"
    assert text.startswith("fhdr: error: "), text
    for name in names:
        assert name in text, f"{name!r} not in {text!r}"
    assert "Traceback" not in result.output + text
    return text


# ---------------------------------------------------------------------------- input builders


def exif_app1(orientation: int) -> bytes:
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def set_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


@pytest.fixture
def small_bgr(photo):
    return np.ascontiguousarray(photo[:24, :32, ::-1])


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------------------- bad photos


def _bad_inputs(small_bgr):
    jpeg = encode(".jpg", small_bgr)
    return {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "random.jpg": np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "text.png": b"Dear user,\nthis is a letter, not a picture.\n",
        "jpeg-named.png": jpeg[:40],  # a JPEG's first bytes under a PNG name
        "no-end.jpg": jpeg[:-2],  # no end-of-image marker: libjpeg would invent grey pixels
        "bit-flipped.png": (lambda b: b[:60] + bytes([b[60] ^ 0x10]) + b[61:])(bytearray(encode(".png", small_bgr))),
    }


@pytest.mark.parametrize("name", ["empty.jpg", "truncated.jpg", "random.jpg", "text.png", "jpeg-named.png",
                                  "no-end.jpg", "bit-flipped.png"])
def test_unreadable_photo_fails_in_one_line(tmp_path, out_dir, weights_file, small_bgr, name):
    src = tmp_path / name
    src.write_bytes(bytes(_bad_inputs(small_bgr)[name]))
    out = out_dir / "result.exr"
    assert_one_line_error(fhdr("convert", src, "-o", out, "-n", "1", "--weights", weights_file), 1, name)
    assert files_in(out_dir) == set()


def test_png_declaring_100000_squared_pixels_fails_fast(tmp_path, out_dir, weights_file):
    src = tmp_path / "bomb.png"
    rows = [b"\x00" * 300] * 4  # a few real rows; the header claims 100000 x 100000
    data = bytearray(handmade_png(100, 4, 8, 2, rows))
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    src.write_bytes(bytes(data))
    fhdr("info", "--weights", weights_file)  # weights loaded and cached: time the read alone
    start = time.perf_counter()
    result = fhdr("convert", src, "-o", out_dir / "bomb.exr", "-n", "1", "--weights", weights_file)
    elapsed = time.perf_counter() - start
    text = assert_one_line_error(result, 1, "bomb.png")
    assert "100000x100000" in text and "limit" in text
    assert elapsed < 2.0
    assert files_in(out_dir) == set()


def test_tiny_jpeg_declaring_a_huge_image_fails_fast(tmp_path, out_dir, weights_file, small_bgr):
    # Found by scripts/fuzz.py: a 700-byte JPEG with restart markers whose header was edited to
    # 17000x17000 took 9 s and 4 GB to "decode" into a garbage image, with no warning that
    # libjpeg made the pixels up (only "found marker 0xd9 instead of RST0").
    jpeg = encode(".jpg", small_bgr, cv2.IMWRITE_JPEG_RST_INTERVAL, 1)
    src = tmp_path / "huge.jpg"
    src.write_bytes(set_jpeg_size(jpeg, 17_000, 17_000))
    start = time.perf_counter()
    result = fhdr("convert", src, "-o", out_dir / "huge.exr", "-n", "1", "--weights", weights_file)
    assert time.perf_counter() - start < 2.0
    assert_one_line_error(result, 1, "huge.jpg", "corrupt")
    # and at a plausible size, the lost restart interval is still damage, not a picture
    src.write_bytes(set_jpeg_size(jpeg, 64, 48))
    assert_one_line_error(fhdr("convert", src, "-o", out_dir / "huge.exr", "-n", "1", "--weights", weights_file),
                          1, "huge.jpg", "corrupt")
    assert files_in(out_dir) == set()


@pytest.mark.parametrize("damage", ["cut-restart-interval", "short-for-its-size"])
def test_jpeg_damage_libjpeg_papers_over_is_refused(tmp_path, out_dir, weights_file, damage):
    # Found by scripts/fuzz.py: with restart markers, libjpeg skips to the next marker over
    # missing data and fills the gap with grey; its warning is not even printed when an
    # earlier, harmless one was (it prints only its first).
    bgr = cv2.resize(np.ascontiguousarray(np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)), (64, 48))
    jpeg = encode(".jpg", bgr, cv2.IMWRITE_JPEG_RST_INTERVAL, 1)
    if damage == "cut-restart-interval":
        first = jpeg.index(b"\xff\xd0")
        data = jpeg[:first] + jpeg[jpeg.index(b"\xff\xd1"):]
    else:  # a header claiming 7 x 17320 pixels: enough bytes for the size cap, far too few MCUs
        data = set_jpeg_size(jpeg, 7, 17_320)
    src = tmp_path / f"{damage}.jpg"
    src.write_bytes(data)
    result = fhdr("convert", src, "-o", out_dir / "x.exr", "-n", "1", "--weights", weights_file)
    assert_one_line_error(result, 1, src.name, "corrupt")
    assert files_in(out_dir) == set()
    src.write_bytes(jpeg)  # the undamaged file is fine
    assert fhdr("convert", src, "-o", out_dir / "x.exr", "-n", "1", "--weights", weights_file).exit_code == 0


def _jpeg_quirk(jpeg: bytes, quirk: str) -> bytes:
    """A JPEG oddity libjpeg only warns about, and decodes as usual."""
    if quirk == "jfif-version":
        at = jpeg.index(b"JFIF\x00") + 5
        return jpeg[:at] + b"\x07" + jpeg[at + 1 :]
    if quirk == "scan-parameters":  # Se = 32 in a baseline file
        sos = jpeg.index(b"\xff\xda")
        at = sos + 5 + 2 * jpeg[sos + 4] + 1
        return jpeg[:at] + b"\x20" + jpeg[at + 1 :]
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]  # junk between header segments
    return jpeg[:app0_end] + b"\x00\x12\x34" + jpeg[app0_end:]


@pytest.mark.parametrize("quirk", ["jfif-version", "scan-parameters", "junk-between-segments"])
def test_harmless_jpeg_quirks_decode_but_never_hide_damage(tmp_path, out_dir, weights_file, quirk):
    # Found by scripts/fuzz.py: libjpeg prints only its first warning, so "unknown JFIF revision"
    # or "Invalid SOS parameters" hid "premature end of data segment" and a grey-filled picture
    # was converted. The quirks are repaired before decoding, so the damage warning shows.
    bgr = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    jpeg = _jpeg_quirk(encode(".jpg", bgr), quirk)
    src = tmp_path / f"{quirk}.jpg"
    src.write_bytes(jpeg)
    assert fhdr("convert", src, "-o", out_dir / "ok.exr", "-n", "1", "--weights", weights_file).exit_code == 0
    assert read_hdr(out_dir / "ok.exr").shape == (48, 64, 3)
    src.write_bytes(jpeg[: len(jpeg) * 2 // 3] + b"\xff\xd9")  # a third of the data lost, end marker kept
    result = fhdr("convert", src, "-o", out_dir / "damaged.exr", "-n", "1", "--weights", weights_file)
    assert_one_line_error(result, 1, src.name, "corrupt")
    assert files_in(out_dir) == {"ok.exr"}


def test_folder_where_a_photo_is_expected(tmp_path, out_dir, weights_file):
    src = tmp_path / "folder.jpg"
    src.mkdir()
    assert_one_line_error(fhdr("convert", src, "-o", out_dir / "x.exr", "--weights", weights_file), 2, "folder.jpg")
    assert files_in(out_dir) == set()


def test_missing_photo(tmp_path, out_dir, weights_file):
    src = tmp_path / "nowhere.jpg"
    assert_one_line_error(fhdr("convert", src, "-o", out_dir / "x.exr", "--weights", weights_file), 2, "nowhere.jpg")
    assert files_in(out_dir) == set()


def test_unsupported_input_extension(tmp_path, out_dir, weights_file, small_bgr):
    src = tmp_path / "photo.gif"
    src.write_bytes(encode(".png", small_bgr))
    assert_one_line_error(fhdr("convert", src, "-o", out_dir / "x.exr", "--weights", weights_file), 2, "photo.gif")
    assert files_in(out_dir) == set()


# ---------------------------------------------------------------------------- bad outputs


@pytest.fixture
def good_jpg(tmp_path, small_bgr):
    src = tmp_path / "good.jpg"
    src.write_bytes(encode(".jpg", small_bgr))
    return src


@pytest.mark.parametrize("name", ["x.tiff", "x.webp", "x.EXR.bak", "x"])  # .jpg is Ultra HDR output now
def test_unsupported_output_extension(good_jpg, out_dir, weights_file, name):
    out = out_dir / name
    assert_one_line_error(fhdr("convert", good_jpg, "-o", out, "--weights", weights_file), 2, name)
    assert files_in(out_dir) == set()


def test_missing_output_folder(good_jpg, out_dir, weights_file):
    out = out_dir / "not" / "there" / "x.exr"
    assert_one_line_error(fhdr("convert", good_jpg, "-o", out, "--weights", weights_file), 2, str(out))
    assert files_in(out_dir) == set()


def test_output_folder_is_a_file(good_jpg, out_dir, weights_file):
    (out_dir / "file").write_text("x")
    out = out_dir / "file" / "x.exr"
    assert_one_line_error(fhdr("convert", good_jpg, "-o", out, "--weights", weights_file), 2, str(out))
    assert files_in(out_dir) == {"file"}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_folder(good_jpg, out_dir, weights_file):
    out_dir.chmod(0o500)
    try:
        assert_one_line_error(fhdr("convert", good_jpg, "-o", out_dir / "x.exr", "--weights", weights_file), 2, "x.exr")
        assert files_in(out_dir) == set()
    finally:
        out_dir.chmod(0o700)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_output_the_system_refuses_is_a_failed_write(good_jpg, weights_file):
    # /proc passes the permission check but refuses to create files: the write itself fails
    result = fhdr("convert", good_jpg, "-o", "/proc/fhdr-test.exr", "-n", "1", "--weights", weights_file)
    assert_one_line_error(result, 1, "/proc/fhdr-test.exr", "cannot write")


def test_output_that_is_an_existing_folder(good_jpg, out_dir, weights_file):
    (out_dir / "taken.exr").mkdir()
    out = out_dir / "taken.exr"
    assert_one_line_error(fhdr("convert", good_jpg, "-o", out, "-n", "1", "--weights", weights_file), 2, "taken.exr")
    result = fhdr("convert", good_jpg, "-o", out, "-n", "1", "--overwrite", "--weights", weights_file)
    assert_one_line_error(result, 1, "taken.exr")
    assert files_in(out_dir) == {"taken.exr"} and out.is_dir()


# ---------------------------------------------------------------------------- bad weights


class _Payload:
    """Unpickling this runs code; a weights loader must never do that."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _bad_weights(kind: str, path: Path, weights_file: Path, marker: Path) -> None:
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = weights_file.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "tensor-dict":
        torch.save({"conv.weight": torch.randn(8, 3, 3, 3), "conv.bias": torch.randn(8)}, path)
    elif kind == "wrong-shapes":
        torch.save({"format": "fhdr-checkpoint-1", "state_dict": {"conv.weight": torch.randn(8, 3, 3, 3)}}, path)
    elif kind == "pickle":
        with open(path, "wb") as f:
            pickle.dump(_Payload(marker), f)
    elif kind == "torch-pickle":
        torch.save(_Payload(marker), path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "missing":
        pass


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated", "tensor-dict", "wrong-shapes", "pickle",
                                  "torch-pickle", "folder", "missing"])
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the hostile file itself
def test_bad_weights_file(tmp_path, good_jpg, out_dir, weights_file, kind):
    weights = tmp_path / f"{kind}.pt"
    marker = tmp_path / "code-ran"
    _bad_weights(kind, weights, weights_file, marker)
    result = fhdr("convert", good_jpg, "-o", out_dir / "x.exr", "-n", "1", "--weights", weights)
    assert_one_line_error(result, 1, f"{kind}.pt")
    assert not marker.exists(), "the weights file was unpickled with code execution"
    assert files_in(out_dir) == set()
    assert_one_line_error(fhdr("info", "--weights", weights), 1, f"{kind}.pt")
    assert not marker.exists()


# ---------------------------------------------------------------------------- odd but valid


def test_path_with_spaces_and_non_ascii(tmp_path, small_bgr, weights_file):
    folder = tmp_path / "my photos ñ 写真"
    folder.mkdir()
    src = folder / "Ñandú en la playa (1) ü.jpg"
    src.write_bytes(encode(".jpg", small_bgr))
    result = fhdr("convert", src, "-n", "1", "--weights", weights_file)
    assert result.exit_code == 0, err(result)
    assert read_hdr(src.with_suffix(".exr")).shape == (24, 32, 3)
    out = folder / "sortie é.hdr"
    assert fhdr("convert", src, "-o", out, "-n", "1", "--weights", weights_file).exit_code == 0
    assert read_hdr(out).shape == (24, 32, 3)
    # errors name such paths intact
    assert_one_line_error(fhdr("convert", folder / "nö.jpg", "--weights", weights_file), 2, "nö.jpg")


def _odd_photos(small_bgr):
    jpeg = encode(".jpg", small_bgr)
    return {
        "one-pixel.png": (encode(".png", np.array([[[10, 200, 30]]], np.uint8)), (1, 1)),
        "one-pixel.jpg": (encode(".jpg", np.array([[[10, 200, 30]]], np.uint8)), (1, 1)),
        "palette.png": (handmade_png(4, 3, 8, 3, [bytes([0, 1, 2, 1])] * 3, extra=[(b"PLTE", bytes(range(0, 250, 28)))]), (3, 4)),
        "grey16.png": (encode(".png", (np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 80)), (24, 32)),
        "rgb16.png": (encode(".png", small_bgr.astype(np.uint16) * 257), (24, 32)),
        "grey-alpha.png": (handmade_png(3, 2, 8, 4, [bytes([10, 255, 20, 128, 30, 0])] * 2), (2, 3)),
        "grey.jpg": (encode(".jpg", small_bgr[..., 1]), (24, 32)),
        "progressive.jpg": (encode(".jpg", small_bgr, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), (24, 32)),
        # EXIF orientation 6 (turn 90 degrees clockwise): stored 32 wide x 24 high, shown 24 x 32
        "rotated.jpg": (jpeg[:2] + exif_app1(6) + jpeg[2:], (32, 24)),
        "mirrored.jpg": (jpeg[:2] + exif_app1(2) + jpeg[2:], (24, 32)),
        "UPPER.JPG": (jpeg, (24, 32)),
    }


@pytest.mark.parametrize("name", ["one-pixel.png", "one-pixel.jpg", "palette.png", "grey16.png", "rgb16.png",
                                  "grey-alpha.png", "grey.jpg", "progressive.jpg", "rotated.jpg", "mirrored.jpg",
                                  "UPPER.JPG"])
def test_odd_but_valid_photos_convert(tmp_path, small_bgr, weights_file, name):
    data, shape = _odd_photos(small_bgr)[name]
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out.exr"
    result = fhdr("convert", src, "-o", out, "-n", "1", "--weights", weights_file)
    assert result.exit_code == 0, err(result)
    hdr = read_hdr(out)
    assert hdr.shape == (*shape, 3)
    assert np.isfinite(hdr).all() and hdr.min() >= 0


def test_debug_shows_the_traceback(tmp_path, weights_file):
    result = fhdr("--debug", "convert", tmp_path / "missing.jpg", "--weights", weights_file)
    assert result.exit_code == 2
    assert "Traceback" in err(result) and "fhdr: error:" in err(result) and "missing.jpg" in err(result)
    # and without --debug, the next run is back to one line
    assert_one_line_error(fhdr("convert", tmp_path / "missing.jpg", "--weights", weights_file), 2, "missing.jpg")


def test_same_input_twice_gives_bit_identical_files(good_jpg, out_dir, weights_file):
    for name in ("a.exr", "b.exr", "a.hdr", "b.hdr"):
        assert fhdr("convert", good_jpg, "-o", out_dir / name, "-n", "2", "--device", "cpu",
                    "--weights", weights_file).exit_code == 0
    assert (out_dir / "a.exr").read_bytes() == (out_dir / "b.exr").read_bytes()
    assert (out_dir / "a.hdr").read_bytes() == (out_dir / "b.hdr").read_bytes()


def test_console_lines_are_not_lost_while_a_reader_thread_captures_stderr(tmp_path):
    # libjpeg/libpng write to file descriptor 2 directly, so decoding borrows it for a moment;
    # a batch prints "failed: ..." lines on the main thread while the next photo is decoded.
    script = textwrap.dedent("""
        import threading, time, cv2, numpy as np
        import fhdr_cli.io.photo as read
        from fhdr_cli.commands import err_console
        ok, png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
        started, real = threading.Event(), cv2.imdecode
        def slow(*args):
            started.set()
            time.sleep(0.5)
            return real(*args)
        read.cv2.imdecode = slow
        reader = threading.Thread(target=read.decode_ldr, args=(png.tobytes(), "x.png"))
        reader.start()
        started.wait()
        err_console.print("failed: a line the user must see", markup=False)
        reader.join()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "failed: a line the user must see\n"


# ---------------------------------------------------------------------------- interruptions


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_busy(proc: subprocess.Popen, cpu_seconds: float, limit: float = 60.0) -> None:
    """Until the child has used `cpu_seconds` of CPU (imports done, model running)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _cpu_seconds(proc.pid) >= cpu_seconds:
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.05)


def _start_convert(src: Path, out: Path, weights: Path, iterations: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "fhdr_cli", "convert", str(src), "-o", str(out), "--iterations", str(iterations),
            "--device", "cpu", "--threads", "1", "--weights", str(weights)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=SUBPROCESS_ENV)


@pytest.fixture
def large_jpg(tmp_path):
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:300, 0:400]
    img = np.stack([xx * 0.6, yy * 0.8, (xx + yy) * 0.3], -1) + rng.normal(0, 8, (300, 400, 3))
    src = tmp_path / "large.jpg"
    src.write_bytes(encode(".jpg", np.clip(img, 0, 255).astype(np.uint8)))
    return src


@pytest.fixture
def busy_convert(large_jpg, out_dir, weights_file):
    """A conversion of large_jpg into out_dir/large.exr that is running the model right now."""
    proc = _start_convert(large_jpg, out_dir / "large.exr", weights_file, iterations=4)
    _wait_until_busy(proc, cpu_seconds=3.0)
    assert proc.poll() is None, "finished before a signal could reach it"
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=60)


@pytest.mark.skipif(not LINUX, reason="uses /proc and POSIX signals")
def test_sigterm_during_conversion_leaves_nothing_behind(busy_convert, out_dir):
    proc = busy_convert
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr.strip().splitlines()[-1] == "fhdr: interrupted"
    assert "Traceback" not in stderr
    assert files_in(out_dir) == set()  # no output, no .large.*.tmp.exr


def _catches_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        caught = next(line for line in f if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def test_the_command_line_installs_its_sigterm_handler_before_importing_torch():
    # Importing torch costs seconds of CPU; a scheduler's SIGTERM in that time must not be a bare kill.
    script = "import sys, fhdr_cli.__main__, fhdr_cli; assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _signal_once_handled(proc: subprocess.Popen, signum: int) -> str:
    """Send `signum` the moment `proc` has installed its SIGTERM handler (most likely mid-import);
    its stderr once it has ended."""
    try:
        while proc.poll() is None and not _catches_sigterm(proc.pid):
            time.sleep(0.001)
        proc.send_signal(signum)
        return proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)


@pytest.mark.skipif(not LINUX, reason="uses /proc and POSIX signals")
def test_sigterm_while_still_importing_exits_130(large_jpg, out_dir, weights_file):
    proc = _start_convert(large_jpg, out_dir / "large.exr", weights_file, iterations=4)
    stderr = _signal_once_handled(proc, signal.SIGTERM)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr.strip().splitlines()[-1] == "fhdr: interrupted"
    assert "Traceback" not in stderr
    assert files_in(out_dir) == set()


TYPER_STEPS = [("typer.main", "get_command"), ("typer.core", "TyperGroup.make_context")]


def _fhdr_info_signalled_in(typer_step: tuple[str, str], send_sigterm: str) -> str:
    """A script running `fhdr info` whose `typer_step` first runs the statement `send_sigterm`."""
    module, attribute = typer_step
    return textwrap.dedent(f"""
        import importlib, os, signal, sys
        *path, name = "{attribute}".split(".")
        owner = importlib.import_module("{module}")
        for part in path:
            owner = getattr(owner, part)
        real = getattr(owner, name)
        def signalled(*args, **kwargs):
            {send_sigterm}
            return real(*args, **kwargs)
        setattr(owner, name, signalled)
        sys.argv = ["fhdr", "info"]
        from fhdr_cli.__main__ import main
        main()
    """)


# Where typer is when the signal lands: building the command (before its own interrupt handling),
# or parsing the arguments (it imports pydantic then, for a second, and turned an interrupt into a
# silent exit 130). Both outside any command's own "interrupted".
@pytest.mark.parametrize("typer_step", TYPER_STEPS)
def test_sigterm_while_typer_parses_says_interrupted(typer_step):
    # the handler runs when os.kill returns: inside this step
    script = _fhdr_info_signalled_in(typer_step, "os.kill(os.getpid(), signal.SIGTERM)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=SUBPROCESS_ENV)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().splitlines() == ["fhdr: interrupted"], proc.stderr


# The imports build namedtuple and dataclass methods with exec/eval of a string; an interrupt that
# leaves such code made CPython (under `python -m`) end the process by SIGINT (-2) after our exit 130.
@pytest.mark.skipif(not LINUX, reason="uses POSIX signals")
@pytest.mark.parametrize("typer_step", TYPER_STEPS)
def test_sigterm_inside_a_string_exec_still_exits_130(tmp_path, typer_step):
    send = 'exec("os.kill(os.getpid(), signal.SIGTERM)\\nfor _ in range(100): pass", {"os": os, "signal": signal})'
    (tmp_path / "signalled_fhdr.py").write_text(_fhdr_info_signalled_in(typer_step, send))
    proc = subprocess.run([sys.executable, "-m", "signalled_fhdr"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=SUBPROCESS_ENV)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().splitlines() == ["fhdr: interrupted"], proc.stderr


# Torch's C++ start-up calls back into Python; a KeyboardInterrupt raised there aborted the process
# (-6, "terminate called after throwing an instance of 'pybind11::error_already_set'").
@pytest.mark.skipif(not LINUX, reason="uses POSIX signals")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_signal_while_importing_torch_waits_until_the_imports_are_done(signal_name):
    script = textwrap.dedent(f"""
        import os, signal, sys
        class SignalOnTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    os.kill(os.getpid(), signal.{signal_name})
                return None  # the usual finders import it
        sys.meta_path.insert(0, SignalOnTorch())
        sys.argv = ["fhdr", "info"]
        from fhdr_cli.__main__ import main
        try:
            main()
        finally:
            print("imported" if "fhdr_cli.cli" in sys.modules else "not imported")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=SUBPROCESS_ENV)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().splitlines() == ["fhdr: interrupted"], proc.stderr
    assert proc.stdout == "imported\n"


@pytest.mark.skipif(not LINUX, reason="uses /proc and POSIX signals")
def test_ctrl_c_ignored_by_the_parent_stays_ignored():
    # A shell starts background jobs with SIGINT ignored; holding Ctrl-C during the imports must not
    # make such a job interruptible.
    script = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); import fhdr_cli.__main__ as m; m.main()"
    proc = subprocess.Popen([sys.executable, "-c", script, "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=SUBPROCESS_ENV)
    stderr = _signal_once_handled(proc, signal.SIGINT)
    assert proc.returncode == 0, (proc.returncode, stderr)


@pytest.mark.skipif(not LINUX, reason="uses /proc and POSIX signals")
def test_sigkill_during_the_model_leaves_no_target(busy_convert, out_dir):
    proc = busy_convert
    proc.kill()
    proc.communicate(timeout=60)
    assert not (out_dir / "large.exr").exists()
    assert all(name.startswith(".large.") for name in files_in(out_dir))  # at most an unfinished temp file


@pytest.mark.skipif(not LINUX, reason="uses /proc and POSIX signals")
@pytest.mark.parametrize("cpu_seconds", [1.3, 1.6])
def test_sigkill_never_leaves_a_half_written_target(tmp_path, small_bgr, out_dir, weights_file, cpu_seconds):
    # A small photo (about 1.7 s of CPU in all, most of it imports): depending on where the kill
    # lands (loading, model, writing, done), the target is absent or complete, never partial.
    src = tmp_path / "small.jpg"
    src.write_bytes(encode(".jpg", cv2.resize(small_bgr, (96, 72))))
    out = out_dir / "small.exr"
    proc = _start_convert(src, out, weights_file, iterations=1)
    _wait_until_busy(proc, cpu_seconds)
    proc.kill()
    proc.communicate(timeout=60)
    if out.exists():
        assert read_hdr(out).shape == (72, 96, 3)
    assert all(name == "small.exr" or name.startswith(".small.") for name in files_in(out_dir))


@pytest.mark.skipif(not LINUX, reason="uses POSIX signals")
def test_interrupted_batch_resumes_with_skip_existing(tmp_path, small_bgr, weights_file):
    src_dir, out_dir = tmp_path / "shots", tmp_path / "hdr"
    (src_dir / "day2").mkdir(parents=True)
    names = [f"img{i:02d}.jpg" for i in range(6)] + [f"day2/img{i:02d}.png" for i in range(6)]
    big = cv2.resize(small_bgr, (160, 120))
    for i, name in enumerate(names):
        cv2.imwrite(str(src_dir / name), np.roll(big, 7 * i, axis=1))
    args = [sys.executable, "-m", "fhdr_cli", "batch", str(src_dir), str(out_dir), "--recursive", "--iterations", "1",
            "--device", "cpu", "--threads", "1", "--weights", str(weights_file), "--report", str(tmp_path / "r.jsonl")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=SUBPROCESS_ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out_dir.is_dir() and any(not p.name.startswith(".") for p in out_dir.rglob("*.exr")):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    done = sorted(p for p in out_dir.rglob("*.exr"))
    assert not [p for p in done if p.name.startswith(".")], "temporary files left behind"
    assert proc.returncode == 130, stderr
    assert 1 <= len(done) < len(names)
    assert "fhdr: interrupted" in stderr and "Traceback" not in stderr
    for path in done:  # what was written is whole
        assert read_hdr(path).shape == (120, 160, 3)
    # the report of the interrupted batch lists photos it finished, and nothing else
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {r["status"] for r in records} <= {"converted"}
    assert {Path(r["output"]) for r in records} <= set(done)

    result = fhdr("batch", src_dir, out_dir, "--recursive", "--skip-existing", "-n", "1", "--weights", weights_file)
    assert result.exit_code == 0, err(result)
    converted = len(names) - len(done)
    row = f"│ {converted:>9} │ {len(done):>7} │ {0:>6} │"
    assert row in result.stdout, result.stdout  # converted / skipped / failed
    for name in names:
        assert read_hdr((out_dir / name).with_suffix(".exr")).shape == (120, 160, 3)
    assert files_in(out_dir) == {"day2"} | {str(Path(n).with_suffix(".exr")) for n in names}
