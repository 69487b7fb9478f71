"""HEIF (HEIC) files for the tests, written at test time by pillow-heif's encoder (libheif with x265),
and edits of their boxes for what the encoder will not write (a size too big, an EXIF orientation
without HEIF's own rotation, another brand or codec)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pillow_heif


def heif_file(pixels: np.ndarray, *, bits: int | None = None, quality: int = -1, chroma: int = 444,
              premultiplied: bool = False, exif: bytes | None = None, icc: bytes | None = None,
              nclx: tuple[int, int] | None = None, **options) -> bytes:
    """A HEIC of ``pixels`` (H x W grey, H x W x 3 RGB or H x W x 4 RGBA; uint8, or uint16 holding
    `bits`-bit codes, 10 or 12). quality -1 with 4:4:4 chroma is lossless but for the colour
    conversion (one code); ``nclx``: (colour primaries, transfer characteristics) as in H.273, in
    place of the sRGB nclx box the encoder writes; an EXIF orientation becomes HEIF's irot/imir boxes
    (and stays in the EXIF). ``options`` go to the encoder (tile_size, thumbnails, ...)."""
    pixels = np.ascontiguousarray(pixels)
    mode = {1: "L", 3: "RGB", 4: "RGBa" if premultiplied else "RGBA"}[1 if pixels.ndim == 2 else pixels.shape[2]]
    if pixels.dtype == np.uint16:
        pixels = pixels << (16 - bits)  # the encoder takes 16-bit values and keeps their top bits
        mode += ";16"
    kwargs = dict(quality=quality, chroma=chroma, **options)
    if exif is not None:
        kwargs["exif"] = exif
    if icc is not None:
        kwargs["icc_profile"] = icc
    if nclx is not None:
        kwargs.update(color_primaries=nclx[0], transfer_characteristics=nclx[1])
    saved = pillow_heif.options.SAVE_HDR_TO_12_BIT
    pillow_heif.options.SAVE_HDR_TO_12_BIT = bits == 12
    try:
        out = io.BytesIO()
        pillow_heif.encode(mode, (pixels.shape[1], pixels.shape[0]), pixels.tobytes(), out, **kwargs)
    finally:
        pillow_heif.options.SAVE_HDR_TO_12_BIT = saved
    return out.getvalue()


def several_images(sizes: list[tuple[int, int]], primary: int) -> bytes:
    """A HEIF holding one random image per (width, height), the `primary`-th marked primary."""
    rng = np.random.default_rng(5)
    heif = pillow_heif.HeifFile()
    for width, height in sizes:
        heif.add_frombytes("RGB", (width, height), rng.integers(0, 256, (height, width, 3), dtype=np.uint8).tobytes())
    out = io.BytesIO()
    heif.save(out, primary_index=primary, quality=-1)
    return out.getvalue()


def box_at(data: bytes, kind: bytes) -> int:
    """Where the only box of this type starts (its size field)."""
    assert data.count(kind) == 1, f"{data.count(kind)} {kind!r} in the file"
    return data.index(kind) - 4


def with_size(data: bytes, width: int, height: int) -> bytes:
    """The 'ispe' box (image spatial extents) declaring another size; libheif checks it only on decoding."""
    at = box_at(data, b"ispe") + 12  # size, type, version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def with_brands(data: bytes, major: bytes, compatible: bytes | None = None) -> bytes:
    """The 'ftyp' box naming another major brand and, if given, only `compatible` among the others (the
    box keeps its size: the file's offsets count from its start)."""
    size = struct.unpack(">I", data[:4])[0]
    brands = data[16:size] if compatible is None else compatible * ((size - 16) // 4)
    return data[:8] + major + data[12:16] + brands + data[size:]
