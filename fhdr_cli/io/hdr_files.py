"""Read and write scene-linear HDR images: OpenEXR (.exr) and Radiance RGBE (.hdr).

Pixels are linear RGB in Rec.709/sRGB primaries: the writer records other chromaticities when told
them, and the reader converts files that declare other ones. Writing goes through ``atomic_write`` so
an interrupted run never leaves a truncated HDR file; reading cleans up what other tools may have
stored (negative or non-finite values) so the rest of the pipeline can trust the numbers.
"""

from __future__ import annotations

import contextlib
import io
import os
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

from fhdr_cli.io.atomic import atomic_write
from fhdr_cli.colour.spaces import REC709, ColourSpace, to_rec709
from fhdr_cli.errors import FhdrError, InputError, UsageError
from fhdr_cli.io.photo import native_stderr_captured

HDR_EXTENSIONS = (".exr", ".hdr")
HALF_MAX = 65504.0  # largest finite float16; anything above would be stored as infinity


_EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_COMPRESSION = {"zip": OpenEXR.ZIP_COMPRESSION, "piz": OpenEXR.PIZ_COMPRESSION}


def hdr_format(path: Path) -> str:
    """'exr' or 'hdr' from the output's extension (any case); anything else is a UsageError."""
    return _format(Path(path), "write")


def read_hdr(path: Path) -> np.ndarray:
    """Linear Rec.709 RGB as float32 H x W x 3 (alpha dropped), negatives and non-finite values set
    to 0. Files that declare other primaries (EXR chromaticities, Radiance PRIMARIES, e.g. ACEScg)
    are converted; unusable declarations are ignored, as most readers do."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not an image")
    fmt = _format(path, "read")
    try:
        rgb, chromaticities = _read_exr(path) if fmt == "exr" else _read_radiance(path)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(f"{path}: cannot read ({reason})") from exc
    rgb = np.nan_to_num(rgb, nan=0.0, posinf=0.0, neginf=0.0)
    to_rec709 = _to_rec709(chromaticities)
    if to_rec709 is not None:
        rgb = rgb @ to_rec709.T.astype(np.float32)
    np.maximum(rgb, 0.0, out=rgb)
    return rgb


def write_hdr(
    path: Path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    half: bool = True,
    compression: str = "zip",
    overwrite: bool = False,
    comments: str = "",
    chromaticities: tuple[float, ...] = REC709.chromaticities,
    capture: dict[str, float | str] | None = None,
) -> None:
    """Write linear RGB (H x W x 3) to .exr or .hdr, atomically.

    EXR stores half floats by default (three significant digits up to 65504: ample for pictures, at
    half the size) or float32 with ``half=False``, losslessly compressed with ``compression`` ("zip"
    or "piz"), tagged with ``chromaticities`` (red x, y, green x, y, blue x, y, white x, y; Rec.709
    and D65 by default), plus an "A" channel when ``alpha`` is given. ``rgb`` is straight colour;
    with ``alpha`` the EXR stores it multiplied by alpha (premultiplied, OpenEXR's convention, which
    compositors such as Nuke assume when they read it). Radiance headers get a PRIMARIES line with
    the same eight numbers. Radiance .hdr has no alpha, so ``alpha`` is ignored there. Negatives and
    NaN become 0 and values are capped at what the file can hold (65504 in half), so no infinities
    are written. ``comments`` (one line: how the image was made) goes into the EXR's standard
    "comments" attribute, or a "#" line of the Radiance header. ``capture`` (OpenEXR's standard
    expTime, aperture, isoSpeed, capDate, as `read_ldr` finds them in EXIF) goes into the EXR header
    only.
    """
    path = Path(path)
    fmt = hdr_format(path)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be H x W x 3, got shape {rgb.shape}")
    if alpha is not None and np.shape(alpha) != rgb.shape[:2]:
        raise ValueError(f"alpha must be H x W = {rgb.shape[:2]}, got shape {np.shape(alpha)}")
    if compression not in _EXR_COMPRESSION:
        raise UsageError(f"unknown EXR compression '{compression}'; use zip or piz")
    comments = " ".join(comments.split())  # one line: a newline would end a Radiance header line

    if fmt == "exr":
        dtype = np.float16 if half else np.float32
        ceiling = HALF_MAX if half else float(np.finfo(np.float32).max)
        # order="C": openexr 3.5 ignores numpy strides and would scramble a strided view.
        alpha = None if alpha is None else _finite(alpha, 1.0)
        colour = rgb if alpha is None else rgb * alpha[:, :, None]
        channels = {
            name: _finite(colour[:, :, i], ceiling).astype(dtype, order="C")
            for i, name in enumerate("RGB")
        }
        if alpha is not None:
            channels["A"] = alpha.astype(dtype, order="C")
        header = {
            "compression": _EXR_COMPRESSION[compression],
            "type": OpenEXR.scanlineimage,
            "chromaticities": tuple(chromaticities),  # openexr 3.5 takes the flat 8-tuple
        }
        if comments:
            header["comments"] = comments
        header.update(capture or {})
        atomic_write(path, partial(_write_exr, OpenEXR.File(header, channels)), overwrite=overwrite)
    else:
        bgr = _finite(rgb[:, :, ::-1], float(np.finfo(np.float32).max))
        ok, encoded = cv2.imencode(".hdr", bgr)
        if not ok:
            raise FhdrError(f"{path}: OpenCV could not encode a Radiance .hdr image")
        # after the "#?RADIANCE" magic line, where readers expect header lines
        magic, _, rest = encoded.tobytes().partition(b"\n")
        lines = [magic, b"PRIMARIES=" + " ".join(f"{v:g}" for v in chromaticities).encode()]
        if comments:
            lines.append(b"# " + comments.encode("utf-8", "replace"))
        data = b"\n".join([*lines, rest])
        atomic_write(path, partial(_write_bytes, data), overwrite=overwrite)


def _format(path: Path, verb: str) -> str:
    ext = path.suffix.lower()
    if ext not in HDR_EXTENSIONS:
        kind = f"'{path.suffix}' files" if path.suffix else "files without an extension"
        raise UsageError(f"{path}: cannot {verb} {kind}; use .exr or .hdr")
    return ext[1:]


def _finite(values: np.ndarray, ceiling: float) -> np.ndarray:
    """float32 copy with NaN and negatives at 0 and everything, +inf included, at most ``ceiling``."""
    out = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=ceiling, neginf=0.0)
    return np.clip(out, 0.0, ceiling, out=out)


def _write_exr(image: OpenEXR.File, tmp: Path) -> None:
    # Through a Python file object: OpenEXR's own path-based writer ignores some write errors
    # (a full disk goes unnoticed), while Python's raises OSError for them.
    with open(tmp, "wb") as stream:
        image.write(stream)


def _write_bytes(data: bytes, tmp: Path) -> None:
    with open(tmp, "wb") as stream:
        stream.write(data)


def _to_rec709(chromaticities: tuple[float, ...] | None) -> np.ndarray | None:
    """3x3 from a file's declared primaries to Rec.709; None when they are Rec.709 or unusable."""
    if chromaticities is None or len(chromaticities) != 8 or np.allclose(chromaticities, REC709.chromaticities, atol=1e-4):
        return None
    try:
        with np.errstate(all="ignore"):
            matrix = to_rec709(ColourSpace("file", tuple(float(v) for v in chromaticities)).to_xyz())
    except (ValueError, ZeroDivisionError):  # LinAlgError is a ValueError
        return None
    # Blender, for one, declares Rec.709 adapted to a D50 white: the same colours, nothing to do
    return None if np.allclose(matrix, np.eye(3), rtol=0, atol=1e-3) else matrix


def _read_exr(path: Path) -> tuple[np.ndarray, tuple[float, ...] | None]:
    """R, G, B (or luminance Y) of the first part, whatever their pixel types, as float32, and the
    declared chromaticities."""
    with open(path, "rb") as stream:  # permission problems surface here as a clear OSError
        magic = stream.read(4)
    if magic != _EXR_MAGIC:
        raise InputError(f"{path}: not an OpenEXR image")
    # The openexr binding also prints a "Warning: ..." line to sys.stdout before raising.
    with native_stderr_captured(), contextlib.redirect_stdout(io.StringIO()):
        try:
            # By path: OpenEXR reads a file several times faster than through a Python stream.
            # separate_channels: the default grouping into one "RGB"/"RGBA" array fails when
            # the channels' pixel types differ (say half R, float G).
            image = OpenEXR.File(str(path), separate_channels=True)
            channels = image.channels()
            chromaticities = image.header().get("chromaticities")
        except Exception as exc:  # whatever the C++ parser throws at damaged bytes
            raise InputError(f"{path}: not an OpenEXR image (truncated or corrupt data)") from exc
    if all(name in channels for name in "RGB"):
        planes = [channels[name].pixels for name in "RGB"]
    elif "Y" in channels:
        planes = [channels["Y"].pixels] * 3
    else:
        found = ", ".join(sorted(channels)) or "none"
        raise InputError(f"{path}: EXR has no R, G, B or Y channels (found: {found})")
    if len({plane.shape for plane in planes}) != 1:
        raise InputError(f"{path}: EXR colour channels are subsampled, which is not supported")
    return np.stack([plane.astype(np.float32) for plane in planes], axis=-1), chromaticities


def _read_radiance(path: Path) -> tuple[np.ndarray, tuple[float, ...] | None]:
    """The pixels, and the PRIMARIES the header declares (None if it declares none)."""
    data = path.read_bytes()
    with native_stderr_captured():
        try:
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            bgr = None
    # imdecode sniffs the format from the bytes: insist it really was a float RGBE picture.
    if bgr is None or bgr.dtype != np.float32 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise InputError(f"{path}: not a Radiance .hdr image (truncated or corrupt data)")
    header = data[: data.find(b"\n\n")].decode("latin-1").splitlines()
    primaries = [line[len("PRIMARIES=") :].split() for line in header if line.startswith("PRIMARIES=")]
    try:
        chromaticities = tuple(float(v) for v in primaries[0]) if primaries else None
    except ValueError:
        chromaticities = None
    return np.ascontiguousarray(bgr[:, :, ::-1]), chromaticities
