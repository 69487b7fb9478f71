"""What a photo's EXIF data says about how it was taken: its orientation and its exposure.

The orientation turns the pixels; the exposure (shutter, f-number, ISO, time of capture) goes
into the EXR as OpenEXR's standard attributes, so a VFX artist can match the plate to other
footage. EXIF comes from anywhere: every offset is bounds-checked, values that make no sense are
dropped, and malformed data yields "as stored, nothing known" rather than an error.

EXIF has a TIFF file's structure, so the IFD reading here (`walk_ifd`, `entry_bytes`, ...) also
reads TIFF photos' own tags (io/tiff.py).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple

_ORIENTATION, _EXIF_IFD = 0x0112, 0x8769  # in IFD0
_EXPOSURE_TIME, _F_NUMBER, _ISO, _DATE_TIME_ORIGINAL = 0x829A, 0x829D, 0x8827, 0x9003  # in the Exif IFD
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEFINED = 1, 2, 3, 4, 5, 7
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _UNDEFINED: 1}
_MAX_ENTRIES = 1000
_DATE = re.compile(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d")  # EXIF's and OpenEXR's capDate format
# Plausible ranges: a value outside is damage, not a photo setting.
_RANGES = {"expTime": (1e-6, 3600.0), "aperture": (0.5, 128.0), "isoSpeed": (1.0, 1e7)}


class Exif(NamedTuple):
    orientation: int = 1  # 1-8 as in EXIF; 1 = as stored
    # OpenEXR standard attribute -> value (expTime, aperture, isoSpeed, capDate); read-only, as shared
    capture: Mapping[str, float | str] = MappingProxyType({})


def parse_exif(tiff: bytes) -> Exif:
    """Orientation and capture settings from EXIF's TIFF structure (after any "Exif\0\0"); a broken
    Exif IFD loses the capture settings, not the orientation."""
    order = {b"II*\0": "<", b"MM\0*": ">"}.get(tiff[:4])
    if order is None:
        return Exif()
    try:
        (first_ifd,) = struct.unpack_from(order + "I", tiff, 4)
        ifd0 = ifd_entries(tiff, order, first_ifd)
        orientation = _number(tiff, order, ifd0.get(_ORIENTATION), _SHORT)
    except (struct.error, ValueError):
        return Exif()
    try:
        capture = _capture(tiff, order, ifd0)
    except (struct.error, UnicodeDecodeError, ValueError):
        capture = {}
    return Exif(int(orientation) if orientation in range(1, 9) else 1, MappingProxyType(capture))


def _capture(tiff: bytes, order: str, ifd0: dict[int, Entry]) -> dict[str, float | str]:
    exif_ifd = _number(tiff, order, ifd0.get(_EXIF_IFD), _LONG)
    if exif_ifd is None:
        return {}
    entries = ifd_entries(tiff, order, int(exif_ifd))
    capture: dict[str, float | str] = {}
    for name, tag, kind in (("expTime", _EXPOSURE_TIME, _RATIONAL), ("aperture", _F_NUMBER, _RATIONAL),
                            ("isoSpeed", _ISO, _SHORT)):
        value = _number(tiff, order, entries.get(tag), kind)
        low, high = _RANGES[name]
        if value is not None and low <= value <= high:
            capture[name] = float(value)
    date = _ascii(tiff, order, entries.get(_DATE_TIME_ORIGINAL))
    if date and _DATE.fullmatch(date):
        capture["capDate"] = date
    return capture


Entry = tuple[int, int, bytes]  # field type, value count, the 4-byte value-or-offset field


def walk_ifd(tiff: bytes, order: str, offset: int) -> Iterator[tuple[int, int, Entry]]:
    """(where the entry starts, tag, entry) for each entry of the IFD at `offset` that fits in
    `tiff` (at most 1000); struct.error if the IFD's entry count lies outside."""
    (count,) = struct.unpack_from(order + "H", tiff, offset)
    for at in range(offset + 2, offset + 2 + 12 * min(count, _MAX_ENTRIES), 12):
        if at + 12 > len(tiff):
            break
        tag, kind, values = struct.unpack_from(order + "HHI", tiff, at)
        yield at, tag, (kind, values, tiff[at + 8 : at + 12])


def ifd_entries(tiff: bytes, order: str, offset: int) -> dict[int, Entry]:
    """tag -> entry, for the IFD at `offset` (the first entry of a repeated tag wins)."""
    entries: dict[int, Entry] = {}
    for _, tag, entry in walk_ifd(tiff, order, offset):
        entries.setdefault(tag, entry)
    return entries


def entry_bytes(tiff: bytes, order: str, entry: Entry) -> bytes:
    """An entry's value bytes: inline when they fit in 4 bytes, else at the offset stored there;
    ValueError if they lie outside `tiff` or the field type is not one read here."""
    kind, count, field = entry
    if kind not in _TYPE_SIZE:
        raise ValueError(f"TIFF field type {kind}")
    size = _TYPE_SIZE[kind] * count
    if size <= 4:
        return field[:size]
    (offset,) = struct.unpack(order + "I", field)
    if offset + size > len(tiff):
        raise ValueError("EXIF value outside the data")
    return tiff[offset : offset + size]


def entry_integers(tiff: bytes, order: str, entry: Entry, most: int) -> tuple[int, ...]:
    """The first `most` values of a BYTE, SHORT or LONG entry (all of them must lie inside `tiff`);
    ValueError for other field types."""
    kind, count, field = entry
    code = {_BYTE: "B", _SHORT: "H", _LONG: "I"}.get(kind)
    if code is None:
        raise ValueError(f"TIFF field type {kind} where a whole number belongs")
    if count > 4 // _TYPE_SIZE[kind]:  # stored elsewhere: check where all of them are, read a few
        (offset,) = struct.unpack(order + "I", field)
        if offset + _TYPE_SIZE[kind] * count > len(tiff):
            raise ValueError("TIFF value outside the data")
        field = tiff[offset : offset + _TYPE_SIZE[kind] * min(count, most)]
    return struct.unpack_from(f"{order}{min(count, most)}{code}", field)


def _number(tiff: bytes, order: str, entry: Entry | None, kind: int) -> float | None:
    """The first value of a SHORT, LONG or RATIONAL entry of the expected type, or None."""
    if entry is None or entry[0] != kind or entry[1] < 1:
        return None
    data = entry_bytes(tiff, order, entry)  # where all the values are decides where the first one is
    if kind == _RATIONAL:
        numerator, denominator = struct.unpack_from(order + "II", data)
        value = numerator / denominator if denominator else math.nan
        return value if math.isfinite(value) else None
    return struct.unpack_from(order + ("H" if kind == _SHORT else "I"), data)[0]


def _ascii(tiff: bytes, order: str, entry: Entry | None) -> str | None:
    if entry is None or entry[0] != _ASCII or not 1 <= entry[1] <= 64:
        return None
    return entry_bytes(tiff, order, entry).split(b"\0", 1)[0].decode("ascii")
