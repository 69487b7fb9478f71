"""TIFF files written byte by byte, for what OpenCV's writer cannot set: orientation, ICC profile,
EXIF, the kind of alpha, separate planes, tiles, float samples."""

from __future__ import annotations

import struct
import zlib

import numpy as np

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED = 1, 2, 3, 4, 5, 7
NONE, LZW, JPEG, DEFLATE, PACKBITS = 1, 5, 7, 8, 32773  # compression
WHITE_IS_ZERO, BLACK_IS_ZERO, RGB, PALETTE, CMYK, YCBCR, CIELAB = 0, 1, 2, 3, 5, 6, 8  # photometric
ASSOCIATED, UNASSOCIATED = 1, 2  # extra samples: premultiplied or straight alpha
EXPOSURE_TIME, F_NUMBER, ISO, DATE_TIME_ORIGINAL = 0x829A, 0x829D, 0x8827, 0x9003  # Exif IFD tags

Tags = dict[int, tuple[int, "bytes | list"]]  # tag -> (field type, values: bytes or numbers)


def exif_capture(exposure=(1, 250), f_number=(28, 10), iso: int = 400, date: bytes = b"2024:05:01 18:22:10\0") -> Tags:
    """The Exif IFD's exposure settings, as cameras write them."""
    return {EXPOSURE_TIME: (RATIONAL, [exposure]), F_NUMBER: (RATIONAL, [f_number]), ISO: (SHORT, [iso]),
            DATE_TIME_ORIGINAL: (ASCII, date)}


def packbits(data: bytes) -> bytes:
    """PackBits with literal runs only (valid, if no smaller)."""
    return b"".join(bytes([len(data[i : i + 128]) - 1]) + data[i : i + 128] for i in range(0, len(data), 128))


def tiff_file(pixels: np.ndarray, *, order: str = "<", photometric: int | None = None, compression: int = NONE,
              planar: bool = False, extra_samples: tuple[int, ...] | None = None, rows_per_strip: int | None = None,
              orientation: int | None = None, icc: bytes | None = None, exif: Tags | None = None,
              tags: dict | None = None, strips: list[bytes] | None = None,
              tile: tuple[int, int] | None = None) -> bytes:
    """A one-page TIFF of ``pixels`` (H x W or H x W x samples, in the file's channel order: RGB(A)).

    uint8 / uint16 / float32 give 8 / 16 / 32-bit samples (sample format 1 or 3). Two or four
    samples carry straight alpha unless ``extra_samples`` says otherwise; ``tags`` adds or
    replaces IFD0 entries (a value of None drops the tag); ``strips`` replaces the encoded strips.
    ``tile`` (width, height) writes tiles instead of strips, padding the picture to whole tiles.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, samples = pixels.shape
    rows = rows_per_strip or height
    stored = pixels.astype(pixels.dtype.newbyteorder(order))
    planes = [stored[:, :, c] for c in range(samples)] if planar else [stored]
    encode = {NONE: bytes, DEFLATE: zlib.compress, PACKBITS: packbits}[compression] if strips is None else None
    if strips is None and tile is None:
        strips = [encode(plane[y : y + rows].tobytes()) for plane in planes for y in range(0, height, rows)]
    elif strips is None:
        tw, th = tile
        pad = [(0, -height % th), (0, -width % tw)]
        planes = [np.pad(plane, pad + [(0, 0)] * (plane.ndim - 2)) for plane in planes]
        strips = [encode(plane[y : y + th, x : x + tw].tobytes()) for plane in planes
                  for y in range(0, height, th) for x in range(0, width, tw)]
    if extra_samples is None:
        extra_samples = (UNASSOCIATED,) if samples in (2, 4) else ()
    if photometric is None:
        photometric = 1 if samples < 3 else 2  # grey or RGB

    def ifd0(strips_at: int, exif_at: int) -> Tags:
        offsets = [strips_at + sum(len(s) + len(s) % 2 for s in strips[:i]) for i in range(len(strips))]
        entries: Tags = {
            256: (LONG, [width]), 257: (LONG, [height]), 258: (SHORT, [8 * pixels.dtype.itemsize] * samples),
            259: (SHORT, [compression]), 262: (SHORT, [photometric]),
            273: (LONG, offsets), 277: (SHORT, [samples]), 278: (LONG, [rows]), 279: (LONG, [len(s) for s in strips]),
            284: (SHORT, [2 if planar else 1]), 339: (SHORT, [3 if pixels.dtype.kind == "f" else 1] * samples),
        }
        if tile is not None:
            for strip_tag, tile_tag in ((273, 324), (279, 325)):
                entries[tile_tag] = (LONG, entries.pop(strip_tag)[1])
            del entries[278]
            entries[322], entries[323] = (LONG, [tile[0]]), (LONG, [tile[1]])
        if extra_samples:
            entries[338] = (SHORT, list(extra_samples))
        if orientation is not None:
            entries[274] = (SHORT, [orientation])
        if icc is not None:
            entries[34675] = (UNDEFINED, icc)
        if exif is not None:
            entries[34665] = (LONG, [exif_at])
        for tag, value in (tags or {}).items():
            if value is None:
                entries.pop(tag, None)
            else:
                entries[tag] = value
        return entries

    first = _ifd(ifd0(0, 0), 8, order)  # the sizes do not depend on the offsets
    exif_ifd = _ifd(exif or {}, 8 + len(first), order) if exif is not None else b""
    strips_at = 8 + len(first) + len(exif_ifd)
    first = _ifd(ifd0(strips_at, 8 + len(first)), 8, order)
    magic = b"II*\0" if order == "<" else b"MM\0*"
    data = b"".join(s + b"\0" * (len(s) % 2) for s in strips)
    return magic + struct.pack(order + "I", 8) + first + exif_ifd + data


def _ifd(entries: Tags, at: int, order: str) -> bytes:
    """An IFD written at file offset ``at``, its values longer than 4 bytes right after it."""
    items = sorted(entries.items())
    values_at = at + 2 + 12 * len(items) + 4
    head, tail = [struct.pack(order + "H", len(items))], b""
    for tag, (kind, values) in items:
        if isinstance(values, bytes):
            count, payload = len(values), values
        elif kind == RATIONAL:
            count, payload = len(values), b"".join(struct.pack(order + "II", *v) for v in values)
        else:
            code = {BYTE: "B", SHORT: "H", LONG: "I"}[kind]
            count, payload = len(values), struct.pack(order + code * len(values), *values)
        if len(payload) <= 4:
            field = payload.ljust(4, b"\0")
        else:
            field = struct.pack(order + "I", values_at + len(tail))
            tail += payload + b"\0" * (len(payload) % 2)
        head.append(struct.pack(order + "HHI", tag, kind, count) + field)
    return b"".join(head) + struct.pack(order + "I", 0) + tail
