"""Read the ICC colour profile embedded in a photo, so wide-gamut photos keep their colours.

The network expects sRGB-encoded input and returns linear light in the primaries of its input.
So a Display P3, Adobe RGB or ProPhoto photo is (1) re-encoded per channel from its own tone
curves to the sRGB curve (same primaries, still in [0, 1]) before the network, and (2) the
linear output is taken to Rec.709/sRGB primaries with one 3x3 matrix (`to_rec709`, which the
converter applies per tile). Only matrix/TRC RGB profiles (what cameras, phones and editors embed)
and grey profiles with a tone curve (e.g. "Gray Gamma 2.2") are understood; anything else parses as
None and the photo is treated as sRGB, as before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch

from ..colour.transfer import linear_to_srgb, srgb_to_linear
from ..colour.spaces import ColourSpace, to_rec709

CURVE_SAMPLES = 16385  # tone curves are tabulated at this many evenly spaced encoded values
_GRID = np.linspace(0.0, 1.0, CURVE_SAMPLES)
_LOOKUP_CHUNK = 1 << 20  # pixels per lookup step: keeps temporaries at a few MB for any photo
_MAX_TAGS = 1000
_DEVICE_CLASSES = (b"mntr", b"scnr", b"spac")  # display, input, colour space; not links etc.
# s15Fixed16 rounding of 'para' parameters leaves dips of ~1e-6 where the pieces meet;
# a curve dipping by more than two 16-bit code values is broken, not rounded.
_MONOTONIC_SLACK = 2 / 65535
_PARA_PARAM_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}  # function type -> g, a, b, c, d, e, f used


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB encoding of a tabulated curve (color.py's, on float64 values clipped to [0, 1])."""
    return linear_to_srgb(torch.from_numpy(linear)).numpy()


@dataclass(frozen=True, eq=False)  # eq=False: == on array fields would be ambiguous
class RgbProfile:
    """A matrix/TRC RGB profile, reduced to what the pipeline needs.

    to_rec709: 3x3, linear source RGB -> linear Rec.709 (D65), column-vector convention:
        rec709 = to_rec709 @ rgb, i.e. for pixel arrays out = pixels @ to_rec709.T.
    curves: R, G, B decoding tables: linear value at CURVE_SAMPLES evenly spaced encoded values
        over [0, 1] (increasing, within [0, 1]).
    """

    description: str
    to_rec709: np.ndarray
    curves: tuple[np.ndarray, np.ndarray, np.ndarray]

    def to_srgb_encoding(self, encoded: np.ndarray) -> np.ndarray:
        """...x3 values in [0, 1] encoded with this profile's curves -> the same linear light
        encoded with the sRGB curve, as float32 in [0, 1]: the encoding the network was trained on.
        Primaries are kept, so nothing is clipped. The input is left untouched."""
        if encoded.shape[-1:] != (3,):
            raise ValueError(f"expected ...x3 RGB values, got shape {encoded.shape}")
        result = np.array(encoded, dtype=np.float32, order="C")  # C order: reshape below is a view
        pixels = result.reshape(-1, 3)
        for channel, curve in enumerate(self.curves):
            _lookup_in_place(pixels[:, channel], _srgb_encode(curve).astype(np.float32))
        return result

    @property
    def is_srgb(self) -> bool:
        """True when converting would change no pixel visibly, so callers can skip both steps."""
        curves_match = all(np.abs(_srgb_encode(curve) - _GRID).max() <= 1e-3 for curve in self.curves)
        return bool(curves_match and np.abs(self.to_rec709 - np.eye(3)).max() <= 2e-3)


def _lookup_in_place(values: np.ndarray, table: np.ndarray) -> None:
    """Piecewise-linear lookup in a table over evenly spaced inputs in [0, 1], chunk by chunk.
    Indexes the table directly: np.interp binary-searches every pixel and is ~20x slower."""
    last = len(table) - 1
    slopes = np.diff(table, append=table[-1])  # 0 after the last entry, where 1.0 lands
    for start in range(0, len(values), _LOOKUP_CHUNK):
        chunk = values[start : start + _LOOKUP_CHUNK]
        position = np.clip(chunk, 0.0, 1.0)
        position *= last
        index = position.astype(np.intp)
        position -= index  # now the fraction between table entries
        chunk[:] = table[index] + position * slopes[index]
        np.clip(chunk, 0.0, 1.0, out=chunk)  # float32 rounding can overshoot an end by an ulp


def parse_icc(profile: bytes) -> RgbProfile | None:
    """The profile as an RgbProfile, or None when it is not one we can apply (not RGB, no
    matrix/TRC tags, LUT-only, malformed, truncated): the caller then treats the photo as sRGB,
    which is also what most viewers do with a profile they cannot read. Never raises on bad bytes.
    """
    try:
        return _parse(profile)
    except (struct.error, IndexError, ValueError, ZeroDivisionError):  # LinAlgError is a ValueError
        return None


def _parse(data: bytes) -> RgbProfile:
    (declared_size,) = struct.unpack_from(">I", data, 0)
    data = memoryview(data)[:declared_size]  # views: hostile tag tables cannot multiply copies
    if len(data) < 132 or declared_size > len(data):
        raise ValueError("truncated profile")
    header = bytes(data[:40])
    if (header[36:40] != b"acsp" or header[8] not in (2, 4) or header[12:16] not in _DEVICE_CLASSES
            or header[16:20] not in (b"RGB ", b"GRAY") or header[20:24] != b"XYZ "):
        raise ValueError("not an RGB or grey profile with an XYZ connection space")
    tags = _tag_table(data)
    description = _description(tags[b"desc"]) if b"desc" in tags else ""
    if header[16:20] == b"GRAY":  # one tone curve; grey stays neutral in any output space
        if b"kTRC" not in tags:
            raise ValueError("no grey tone curve")
        grey = _curve(tags[b"kTRC"])
        return RgbProfile(description, np.eye(3), (grey, grey, grey))
    if not {b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"} <= tags.keys():
        raise ValueError("no matrix/TRC tags")
    colorants = np.column_stack([_s15fixed16(tags[sig], b"XYZ ", 3) for sig in (b"rXYZ", b"gXYZ", b"bXYZ")])
    chad = _s15fixed16(tags[b"chad"], b"sf32", 9).reshape(3, 3) if b"chad" in tags else np.eye(3)
    curves = (_curve(tags[b"rTRC"]), _curve(tags[b"gTRC"]), _curve(tags[b"bTRC"]))
    return RgbProfile(description, _rec709_matrix(colorants, chad), curves)


def primaries_profile(description: str, chromaticities: tuple[float, ...], gamma: float | None = None) -> RgbProfile:
    """A colour space given by numbers instead of an ICC profile (a HEIF's nclx box): its primaries and
    white (red x, y, green x, y, blue x, y, white x, y) and one tone curve for all three channels, the
    sRGB curve (`gamma` None) or a pure power (1 for linear light). ValueError for implausible values."""
    if len(chromaticities) != 8 or not all(0.0 < value < 1.0 for value in chromaticities):
        raise ValueError("chromaticities outside (0, 1)")
    curve = srgb_to_linear(torch.from_numpy(_GRID)).numpy() if gamma is None else _GRID**gamma
    return RgbProfile(description, to_rec709(ColourSpace(description, chromaticities).to_xyz()), (curve,) * 3)


HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # H.273 transfer characteristics of HDR images


def already_hdr(kind: str, transfer: int | None) -> str | None:
    """The one-line refusal of a photo whose H.273 `transfer` (a cICP chunk, a HEIF's nclx box, an
    ICC profile's cicp tag) is PQ or HLG: it holds HDR already. None for SDR transfers."""
    curve = HDR_TRANSFERS.get(transfer)
    if curve is None:
        return None
    return (f"HDR {kind} ({curve} transfer): it holds HDR data already, which fhdr does not take as input "
            "(it makes HDR from SDR photos)")


def icc_cicp(profile: bytes) -> tuple[int, int, int, int] | None:
    """The coding-independent code points (H.273 primaries, transfer, matrix, full range) of an ICC
    profile's 'cicp' tag (ICC.1:2022): how an HDR profile says PQ or HLG. None if it has none or is malformed."""
    try:
        (declared_size,) = struct.unpack_from(">I", profile, 0)
        tag = _tag_table(memoryview(profile)[:declared_size]).get(b"cicp")
        if tag is None or bytes(tag[:4]) != b"cicp" or len(tag) < 12:
            return None
        return tuple(tag[8:12])
    except (struct.error, ValueError):
        return None


def _tag_table(data: memoryview) -> dict[bytes, memoryview]:
    """Tag signature -> tag bytes, after checking that every tag lies inside the profile."""
    (count,) = struct.unpack_from(">I", data, 128)
    if count > _MAX_TAGS:
        raise ValueError("implausible tag count")
    tags = {}
    for entry in range(count):
        signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * entry)
        if offset + size > len(data):
            raise ValueError("tag outside the profile")
        tags[signature] = data[offset : offset + size]
    return tags


def _s15fixed16(tag: memoryview, tag_type: bytes, count: int) -> np.ndarray:
    """The `count` numbers of an 'XYZ ' or 'sf32' tag, after its 8-byte type header."""
    if bytes(tag[:4]) != tag_type:
        raise ValueError(f"expected a {tag_type!r} tag")
    return np.array(struct.unpack_from(f">{count}i", tag, 8)) / 65536.0


def _rec709_matrix(colorants: np.ndarray, chad: np.ndarray) -> np.ndarray:
    """Linear source RGB -> linear Rec.709, with the source white landing on (1, 1, 1).

    The colorants are stored adapted to the D50 connection space. inv(chad) undoes that
    adaptation (for Display P3 or sRGB v4 profiles, back to their D65 white); v2 profiles have
    no chad and stay D50-relative. Bradford then adapts the white the colorants add up to onto
    D65. Adapting from their actual sum rather than a nominal white absorbs the s15Fixed16
    rounding (~1e-3 tints otherwise) and also fits old profiles never adapted to D50.
    """
    if abs(colorants[1].sum() - 1.0) > 0.01:  # the connection space's white has Y = 1
        raise ValueError("colorants do not add up to white")
    native = np.linalg.inv(chad) @ colorants
    if not (native.sum(axis=1) > 0).all():
        raise ValueError("implausible white point")
    return to_rec709(native)


def _curve(tag: memoryview) -> np.ndarray:
    """A 'curv' or 'para' tone curve tabulated at CURVE_SAMPLES encoded values (see RgbProfile)."""
    tag_type = bytes(tag[:4])
    with np.errstate(all="ignore"):  # hostile parameters may overflow: judged by the checks below
        if tag_type == b"curv":
            (count,) = struct.unpack_from(">I", tag, 8)
            if count == 0:
                linear = _GRID
            elif count == 1:  # a gamma, as u8Fixed8
                linear = _GRID ** (struct.unpack_from(">H", tag, 12)[0] / 256.0)
            else:
                table = np.frombuffer(tag, dtype=">u2", count=count, offset=12) / 65535.0
                linear = np.interp(_GRID, np.linspace(0.0, 1.0, count), table)
        elif tag_type == b"para":
            linear = _parametric_curve(tag, _GRID)
        else:
            raise ValueError("unknown tone curve type")
    if not np.isfinite(linear).all():
        raise ValueError("tone curve is not finite")
    linear = np.clip(linear, 0.0, 1.0)
    increasing = np.maximum.accumulate(linear)
    if (increasing - linear).max() > _MONOTONIC_SLACK or linear[-1] <= linear[0]:
        raise ValueError("tone curve is not increasing")  # guessing its intent would be worse
    return increasing


def _parametric_curve(tag: memoryview, x: np.ndarray) -> np.ndarray:
    """ICC 'para' function types 0-4 (ICC.1:2010 table 68)."""
    (function,) = struct.unpack_from(">H", tag, 8)
    if function not in _PARA_PARAM_COUNTS:
        raise ValueError("unknown parametric curve type")
    count = _PARA_PARAM_COUNTS[function]
    params = [value / 65536.0 for value in struct.unpack_from(f">{count}i", tag, 12)]
    g, a, b, c, d, e, f = params + [0.0] * (7 - count)
    if function == 0:
        return x**g
    power = np.maximum(a * x + b, 0.0) ** g  # the max gives types 1 and 2 their 0 below x = -b/a
    if function in (1, 2):
        return power + c  # c is 0 for type 1
    if function == 3:
        return np.where(x >= d, power, c * x)
    return np.where(x >= d, power + e, c * x + f)


def _description(tag: memoryview) -> str:
    """The profile's name, for messages; printable characters only, as it comes from the file."""
    tag_type = bytes(tag[:4])
    if tag_type == b"desc":  # v2 textDescriptionType: ASCII length (with its NUL), then ASCII
        (length,) = struct.unpack_from(">I", tag, 8)
        text = bytes(tag[12 : 12 + length]).decode("latin-1")
    elif tag_type == b"mluc":  # v4: records of language, country, length, offset; first one used
        (records,) = struct.unpack_from(">I", tag, 8)
        if records == 0:
            return ""
        length, offset = struct.unpack_from(">II", tag, 20)
        text = bytes(tag[offset : offset + length]).decode("utf-16-be", errors="replace")
    else:
        return ""
    return "".join(char for char in text.split("\0", 1)[0] if char.isprintable()).strip()
