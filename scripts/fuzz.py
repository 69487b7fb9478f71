"""Fuzz the photo reader and the `fhdr convert` path with mutated JPEG/PNG/TIFF/HEIC/WebP files.

    python scripts/fuzz.py --cases 10000 --seed 0

Every case starts from a small valid JPEG, PNG, TIFF, HEIC or WebP (baseline, progressive, grey,
16-bit, RGBA, palette, EXIF-rotated, ICC-tagged, LZW/deflate/JPEG-compressed, tiled, planar; HEIC 8-
and 10-bit, turned, gridded, with several images; WebP lossy, lossless, with alpha, ...) and applies
one to three mutations: bit flips, interesting byte values, truncation, PNG chunk / JPEG segment /
HEIF box / WebP chunk length edits, header field edits (with the PNG CRC fixed up so the decoder
looks further; a TIFF IFD entry's type, count or value; a byte of a HEIF box libheif reads before
the pixels; a byte of a WebP image header), random insertions, deletions,
duplications and splices of two seeds. Each case goes through

* ``fhdr_cli.io.photo.decode_ldr`` (the bytes), and through ``read_ldr`` from a file, which is the
  read step of ``fhdr convert``; a decoded image must be a sane float32 array;
* every ``--cli-every``-th case, the real CLI (``fhdr convert --iterations 1`` through
  typer's CliRunner, random weights), which must exit 0, 1 or 2, print no traceback, print
  exactly one ``fhdr: error:`` line on failure and leave either no output or a readable one.

A crash is any exception other than InputError/UsageError, a bad decoded array, a CLI exit
code outside {0, 1, 2} or a traceback, or the worker process dying (e.g. a segfault in a C
decoder). A hang is a case taking more than ``--timeout`` seconds (5). Cases run in a worker
process the driver restarts after a crash or hang, and every case is reproducible from
``--seed`` and its index (``--only INDEX`` replays one, ``--save DIR`` keeps the bad inputs).

The last line is ``fuzz: N cases, C crashes, H hangs``; the exit status is 1 if C + H > 0.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import struct
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")
# HEIF boxes holding other boxes -> bytes between their header and their first child (meta and iinf
# are full boxes; iinf also counts its entries, in 2 bytes in version 0, else 4)
HEIF_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"dinf": 0, b"iinf": 6}
# what libheif reads of a HEIF before decoding: brands, handler, primary item, locations, item infos,
# properties (size, turn, mirror, crop, colour, bit depth, HEVC configuration), associations, references
HEIF_HEADER_BOXES = (b"ftyp", b"hdlr", b"pitm", b"iloc", b"infe", b"ispe", b"irot", b"imir", b"clap", b"colr",
                     b"pixi", b"hvcC", b"ipma", b"iref", b"auxC")
# WebP chunks whose first bytes libwebp reads as a header: flags and canvas, frame header, alpha method
WEBP_HEADER_CHUNKS = {b"VP8X": 10, b"VP8 ": 10, b"VP8L": 5, b"ALPH": 1}
INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_16 = (0, 1, 2, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
CLI_MAX_PIXELS = 256 * 256
INTERESTING_32 = (0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 100_000, 1 << 16, 17_000)


# ---------------------------------------------------------------------------- seed images


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _handmade_png(width: int, height: int, depth: int, colour: int, rows: list[bytes], extra=()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + b"".join(_png_chunk(k, d) for k, d in extra)
            + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b""))


def _exif(orientation: int, order: str = ">") -> bytes:
    """A minimal TIFF structure holding only the orientation tag."""
    head = (b"MM\x00*" if order == ">" else b"II*\x00") + struct.pack(order + "I", 8)
    entry = struct.pack(order + "HHIHH", 0x0112, 3, 1, orientation, 0)
    return head + struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0)


def _with_app1(jpeg: bytes, tiff: bytes) -> bytes:
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _with_app2_icc(jpeg: bytes, profile: bytes, pieces: int) -> bytes:
    """The profile split into `pieces` numbered APP2 segments, as writers split large profiles."""
    size = -(-len(profile) // pieces)
    segments = [b"ICC_PROFILE\x00" + bytes([n + 1, pieces]) + profile[n * size : (n + 1) * size] for n in range(pieces)]
    return jpeg[:2] + b"".join(b"\xff\xe2" + struct.pack(">H", len(seg) + 2) + seg for seg in segments) + jpeg[2:]


def seed_images() -> list[tuple[str, bytes]]:
    """(extension, bytes) of small valid photos covering the layouts the reader handles."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from icc_profiles import adobe_profile, p3_profile  # the test suite's hand-built ICC profiles
    from heif_files import heif_file, several_images
    from tiff_files import ASSOCIATED, DEFLATE, JPEG, PACKBITS, SHORT, YCBCR, exif_capture, tiff_file
    from webp_files import webp_file

    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:12, 0:16]
    rgb = np.stack([xx * 15, yy * 20, (xx + yy) * 8], -1).astype(np.uint8)
    rgb = np.clip(rgb + rng.integers(0, 30, rgb.shape), 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, (xx * 16).astype(np.uint8)])
    grey16 = (yy * 5000 + xx * 100).astype(np.uint16)

    def enc(ext: str, img, *params: int) -> bytes:
        ok, buf = cv2.imencode(ext, img, list(params))
        assert ok
        return buf.tobytes()

    jpeg = enc(".jpg", rgb, cv2.IMWRITE_JPEG_QUALITY, 90)
    seeds = [
        (".jpg", jpeg),
        (".jpg", enc(".jpg", rgb, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        (".jpg", enc(".jpg", rgb[..., 0])),
        (".jpg", enc(".jpg", rgb, cv2.IMWRITE_JPEG_RST_INTERVAL, 1)),
        (".jpg", enc(".jpg", rgb, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)),
        (".jpeg", _with_app1(jpeg, _exif(6))),
        (".jpg", _with_app1(jpeg, _exif(8, "<"))),
        (".png", enc(".png", rgb)),
        (".png", enc(".png", rgba)),
        (".png", enc(".png", rgb[..., 0])),
        (".png", enc(".png", grey16)),
        (".png", enc(".png", rgb.astype(np.uint16) * 257)),
        (".png", _handmade_png(4, 3, 8, 3, [bytes([0, 1, 2, 1])] * 3,
                               extra=[(b"PLTE", bytes(range(9))), (b"tRNS", b"\x80")])),
        (".png", _handmade_png(3, 2, 8, 4, [bytes([10, 255, 20, 128, 30, 0])] * 2)),
        (".png", _handmade_png(5, 4, 1, 0, [b"\xa8"] * 4, extra=[(b"eXIf", _exif(6))])),
        (".png", _handmade_png(1, 1, 8, 2, [b"\x10\x20\x30"])),
        (".jpg", _with_app2_icc(jpeg, p3_profile(), pieces=2)),
        (".png", _handmade_png(2, 2, 8, 2, [bytes(range(6)), bytes(range(40, 46))],
                               extra=[(b"iCCP", b"Adobe\x00\x00" + zlib.compress(adobe_profile()))])),
        (".tif", tiff_file(rgb, orientation=6, icc=p3_profile(), exif=exif_capture())),
        (".tiff", enc(".tiff", rgba, cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_LZW)),
        (".tif", tiff_file(grey16, order=">", compression=DEFLATE, rows_per_strip=4)),
        (".tif", tiff_file(rgb.astype(np.uint16) * 257, compression=DEFLATE, tile=(16, 16), orientation=3)),
        (".tif", tiff_file(rgba, planar=True, compression=PACKBITS, extra_samples=(ASSOCIATED,), rows_per_strip=5)),
        (".tif", tiff_file(rgb, photometric=YCBCR, compression=JPEG, strips=[jpeg], tags={530: (SHORT, [2, 2])})),
        # HEIC as phones write it: lossy 4:2:0, turned (irot, and EXIF orientation 6 too), Display P3
        (".heic", heif_file(rgb, quality=80, chroma=420, icc=p3_profile(),
                            exif=tiff_file(rgb[:1, :1], orientation=6, exif=exif_capture()))),
        (".heic", heif_file(rgba.astype(np.uint16) * 4, bits=10)),  # 10-bit RGBA, lossless 4:4:4
        (".heif", heif_file(rgb[..., 1], quality=70)),  # grey
        (".hif", heif_file(rgb, quality=80, chroma=422, nclx=(12, 13), tile_size=8)),  # nclx P3, a grid of tiles
        (".heic", heif_file(rgba, premultiplied=True, exif=_exif(2), thumbnails=[8])),  # mirrored, thumbnail
        (".heic", several_images([(8, 6), (16, 12)], primary=1)),
        # WebP as the web serves it: lossy, lossy with (lossless) alpha, lossless; turned and P3-tagged
        (".webp", webp_file(rgb, quality=80)),
        (".webp", webp_file(rgba, quality=75)),
        (".webp", webp_file(rgba)),
        (".webp", webp_file(rgb, icc=p3_profile(), exif=tiff_file(rgb[:1, :1], orientation=6, exif=exif_capture()))),
        (".webp", webp_file(rgb[:1, :1], quality=90)),
    ]
    return seeds


# ---------------------------------------------------------------------------- mutations


def _png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of the chunks that parse, stopping at the first that does not."""
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((pos, length))
        if pos + 12 + length > len(data):
            break
        pos += 12 + length
    return chunks


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset of 0xFF, marker, length) of the segments before the first scan."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return segments


def _heif_boxes(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, size) of the HEIF boxes at the top and inside HEIF_CONTAINERS that lie inside the data."""
    boxes: list[tuple[int, bytes, int]] = []

    def walk(pos: int, end: int) -> None:
        while pos + 8 <= end:
            size, kind = int.from_bytes(data[pos : pos + 4], "big"), bytes(data[pos + 4 : pos + 8])
            if size < 8 or pos + size > end:
                return
            boxes.append((pos, kind, size))
            if kind in HEIF_CONTAINERS:
                skip = HEIF_CONTAINERS[kind] + (2 if kind == b"iinf" and data[pos + 8] else 0)
                walk(pos + 8 + skip, pos + size)
            pos += size

    walk(0, len(data))
    return boxes


def _webp_chunks(data: bytes) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of a WebP's chunks that lie inside the data, stopping at the first that does not."""
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + length > len(data):
            break
        chunks.append((pos, bytes(data[pos : pos + 4]), length))
        pos += 8 + length + (length & 1)
    return chunks


def _is_webp(buf: bytearray) -> bool:
    return bytes(buf[:4]) == b"RIFF" and bytes(buf[8:12]) == b"WEBP"


def _is_heif(buf: bytearray) -> bool:
    return bytes(buf[4:8]) == b"ftyp"


def _tiff_entries(data: bytes) -> list[tuple[int, int]]:
    """(offset, tag) of the entries of a TIFF's first IFD that lie inside the data."""
    from fhdr_cli.io.exif import walk_ifd

    order = "<" if data[:2] == b"II" else ">"
    try:
        (first,) = struct.unpack_from(order + "I", data, 4)
        return [(at, tag) for at, tag, _ in walk_ifd(data, order, first)]
    except struct.error:
        return []


def _tiff_entry_edit(buf: bytearray, rnd: random.Random, tags: tuple[int, ...] = ()) -> bytearray:
    """Give a TIFF IFD0 entry (one of `tags`, if any) another type, count or value."""
    entries = [(at, tag) for at, tag in _tiff_entries(bytes(buf)) if not tags or tag in tags]
    if not entries:
        return buf
    at, _ = rnd.choice(entries)
    order = "<" if buf[:2] == b"II" else ">"
    field_at = rnd.choice((2, 4, 8, 8, 8))  # type, count, value or offset
    if field_at == 2:
        buf[at + 2 : at + 4] = struct.pack(order + "H", rnd.choice((0, 1, 2, 3, 4, 5, 7, 11, 12, 16, 99)))
    else:
        value = rnd.choice([*INTERESTING_32, 3, 4, 5, 6, 8, 16, 32, 34892, rnd.getrandbits(16), rnd.getrandbits(32)])
        buf[at + field_at : at + field_at + 4] = struct.pack(order + "I", value & 0xFFFFFFFF)
    return buf


def _fix_crc(buf: bytearray, offset: int) -> None:
    (length,) = struct.unpack(">I", buf[offset : offset + 4])
    end = offset + 8 + length
    if end + 4 <= len(buf):
        buf[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(buf[offset + 4 : end])))


def _set(buf: bytearray, i: int, value: int) -> None:
    if 0 <= i < len(buf):
        buf[i] = value


def m_bit_flip(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    for _ in range(rnd.randint(1, 8)):
        if buf:
            i = rnd.randrange(len(buf))
            buf[i] ^= 1 << rnd.randrange(8)
    return buf


def m_interesting_byte(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    for _ in range(rnd.randint(1, 4)):
        if buf:
            buf[rnd.randrange(len(buf))] = rnd.choice(INTERESTING_8)
    return buf


def m_truncate(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    return buf[: rnd.randrange(len(buf) + 1)]


def m_insert(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    at = rnd.randrange(len(buf) + 1)
    junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 64)))
    if rnd.random() < 0.3:
        junk = b"\xff" + bytes([rnd.choice((0xD8, 0xD9, 0xDA, 0xC0, 0xC2, 0xE1, 0xDD, 0x00, 0xD0))]) + junk[:4]
    return buf[:at] + junk + buf[at:]


def m_delete(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    if len(buf) < 2:
        return buf
    a = rnd.randrange(len(buf))
    b = min(len(buf), a + rnd.randint(1, 64))
    return buf[:a] + buf[b:]


def m_duplicate(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    if len(buf) < 2:
        return buf
    a = rnd.randrange(len(buf))
    b = min(len(buf), a + rnd.randint(1, 256))
    at = rnd.randrange(len(buf) + 1)
    return buf[:at] + buf[a:b] + buf[at:]


def m_splice(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    other = rnd.choice(seeds)[1]
    return buf[: rnd.randrange(len(buf) + 1)] + other[rnd.randrange(len(other) + 1) :]


def m_length_field(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    """Edit a PNG chunk length, a JPEG segment length, a TIFF entry's count or offset, a HEIF box's size
    or a WebP chunk's length (or the RIFF size)."""
    if bytes(buf[:4]) in TIFF_SIGNATURES:
        return _tiff_entry_edit(buf, rnd)
    if _is_webp(buf):
        offset, _, size = rnd.choice([(0, b"RIFF", len(buf) - 8), *_webp_chunks(bytes(buf))])
        new = rnd.choice([*INTERESTING_32, size + 1, size - 1, size + 2, rnd.getrandbits(32)])
        buf[offset + 4 : offset + 8] = struct.pack("<I", new & 0xFFFFFFFF)
        return buf
    if _is_heif(buf):
        boxes = _heif_boxes(bytes(buf))
        if boxes:
            offset, _, size = rnd.choice(boxes)
            new = rnd.choice([*INTERESTING_32, 8, size + 1, size - 1, size + 4, rnd.getrandbits(32)])
            buf[offset : offset + 4] = struct.pack(">I", new & 0xFFFFFFFF)
        return buf
    if buf.startswith(PNG_SIGNATURE):
        chunks = _png_chunks(bytes(buf))
        if chunks:
            offset, length = rnd.choice(chunks)
            new = rnd.choice([*INTERESTING_32, length + 1, max(0, length - 1), rnd.getrandbits(32)])
            buf[offset : offset + 4] = struct.pack(">I", new & 0xFFFFFFFF)
        return buf
    segments = _jpeg_segments(bytes(buf))
    if segments:
        offset, _, length = rnd.choice(segments)
        new = rnd.choice([*INTERESTING_16, length + 1, max(0, length - 1), rnd.getrandbits(16)])
        buf[offset + 2 : offset + 4] = struct.pack(">H", new & 0xFFFF)
    return buf


def m_header_field(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    """Edit the image size or pixel layout where the decoder reads it (PNG: and fix the CRC)."""
    if bytes(buf[:4]) in TIFF_SIGNATURES:  # size, bits, compression, colour model, layout, strips, tiles, ...
        layout = (256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 284, 322, 323, 324, 325, 338, 339, 34675)
        return _tiff_entry_edit(buf, rnd, layout)
    if _is_webp(buf):  # one byte of an image header: VP8X flags and canvas, VP8 frame header, VP8L's, ALPH's
        chunks = [c for c in _webp_chunks(bytes(buf)) if c[1] in WEBP_HEADER_CHUNKS and c[2]]
        if chunks:
            offset, kind, length = rnd.choice(chunks)
            at = offset + 8 + rnd.randrange(min(length, WEBP_HEADER_CHUNKS[kind]))
            buf[at] = rnd.choice((*INTERESTING_8, 0x02, 0x10, 0x20, 0x2F, 0x9D, rnd.getrandbits(8)))
        return buf
    if _is_heif(buf):  # one byte of a box libheif reads before the pixels, past its size and type
        boxes = [b for b in _heif_boxes(bytes(buf)) if b[1] in HEIF_HEADER_BOXES and b[2] > 8]
        if boxes:
            offset, _, size = rnd.choice(boxes)
            at = offset + 8 + rnd.randrange(size - 8)
            buf[at] = rnd.choice((*INTERESTING_8, 2, 3, 4, 8, 10, 12, 16, rnd.getrandbits(8)))
        return buf
    if buf.startswith(PNG_SIGNATURE):
        chunks = [c for c in _png_chunks(bytes(buf)) if bytes(buf[c[0] + 4 : c[0] + 8]) in (b"IHDR", b"PLTE", b"eXIf", b"tRNS")]
        if not chunks:
            return buf
        offset, length = rnd.choice(chunks)
        start = offset + 8
        if bytes(buf[offset + 4 : offset + 8]) == b"IHDR" and length >= 13:
            field_at = rnd.choice((0, 4, 8, 9, 10, 11, 12))
            if field_at in (0, 4):
                value = rnd.choice([*INTERESTING_32, rnd.randint(1, 20_000)])
                buf[start + field_at : start + field_at + 4] = struct.pack(">I", value & 0xFFFFFFFF)
            else:
                _set(buf, start + field_at, rnd.choice((0, 1, 2, 3, 4, 6, 8, 16, 255)))
        elif length:
            _set(buf, start + rnd.randrange(min(length, 1 << 20)), rnd.getrandbits(8))
        if rnd.random() < 0.9:
            _fix_crc(buf, offset)
        return buf
    segments = [s for s in _jpeg_segments(bytes(buf)) if s[2] >= 4]
    if not segments:
        return buf
    offset, marker, length = rnd.choice(segments)
    start = offset + 4
    if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and length >= 8:
        field_at = rnd.choice((0, 1, 3, 5, 6, 7, 8))  # precision, height, width, components, ...
        if field_at in (1, 3):
            value = rnd.choice([*INTERESTING_16, rnd.randint(1, 20_000)])
            buf[start + field_at : start + field_at + 2] = struct.pack(">H", value)
        else:
            _set(buf, start + field_at, rnd.choice((*INTERESTING_8, 2, 3, 4, 12, 16, 0x11, 0x22, 0x44)))
    elif length > 2:
        _set(buf, start + rnd.randrange(length - 2), rnd.getrandbits(8))
    return buf


def m_dimensions(buf: bytearray, rnd: random.Random, seeds) -> bytearray:
    """Declare another image size (both sides at once), from 1x1 to hundreds of megapixels."""
    pick = lambda: rnd.choice((1, 2, 7, 8, 9, 15, 16, 17, 255, 256, 4096, 12_000, 17_000, 17_320, 65_535,
                               rnd.randint(1, 2_000), rnd.randint(1, 20_000)))  # noqa: E731
    width, height = pick(), pick()
    if _is_webp(buf):  # VP8X's canvas and the image chunk's own size, alike
        for offset, kind, length in _webp_chunks(bytes(buf)):
            at = offset + 8
            if kind == b"VP8X" and length >= 10:
                buf[at + 4 : at + 10] = ((width - 1) & 0xFFFFFF).to_bytes(3, "little") + ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
            elif kind == b"VP8 " and length >= 10:
                buf[at + 6 : at + 10] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
            elif kind == b"VP8L" and length >= 5:
                (bits,) = struct.unpack_from("<I", buf, at + 1)
                size = ((width - 1) & 0x3FFF) | ((height - 1) & 0x3FFF) << 14
                buf[at + 1 : at + 5] = struct.pack("<I", bits & ~0xFFFFFFF | size)
        return buf
    if _is_heif(buf):  # every 'ispe' (image spatial extents): the primary's, a tile's, a thumbnail's
        for offset, kind, size in _heif_boxes(bytes(buf)):
            if kind == b"ispe" and size >= 20:
                buf[offset + 12 : offset + 20] = struct.pack(">II", width, height)
        return buf
    if bytes(buf[:4]) in TIFF_SIGNATURES:
        order = "<" if buf[:2] == b"II" else ">"
        for at, tag in _tiff_entries(bytes(buf)):
            if tag in (256, 257):  # as a LONG, whatever the type was
                buf[at + 2 : at + 12] = struct.pack(order + "HII", 4, 1, width if tag == 256 else height)
        return buf
    if buf.startswith(PNG_SIGNATURE):
        if len(buf) >= 33 and buf[12:16] == b"IHDR":
            buf[16:24] = struct.pack(">II", width, height)
            if rnd.random() < 0.9:
                _fix_crc(buf, 8)
        return buf
    for offset, marker, length in _jpeg_segments(bytes(buf)):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and length >= 8:
            buf[offset + 5 : offset + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
            break
    return buf


MUTATORS = (m_bit_flip, m_bit_flip, m_interesting_byte, m_truncate, m_insert, m_delete, m_duplicate,
            m_splice, m_length_field, m_length_field, m_header_field, m_header_field, m_header_field,
            m_dimensions, m_dimensions)


def make_case(seed: int, index: int, seeds: list[tuple[str, bytes]]) -> tuple[str, bytes, list[str]]:
    """The index-th case of a run: (extension, bytes, names of the mutations applied)."""
    rnd = random.Random(f"fhdr-fuzz:{seed}:{index}")
    ext, data = rnd.choice(seeds)
    buf = bytearray(data)
    applied = []
    for _ in range(rnd.choice((1, 1, 1, 2, 2, 3))):
        mutate = rnd.choice(MUTATORS)
        buf = mutate(buf, rnd, seeds)
        applied.append(mutate.__name__[2:])
    if rnd.random() < 0.05:  # the wrong extension for the contents
        ext = ".png" if ext != ".png" else ".jpg"
    return ext, bytes(buf), applied


# ---------------------------------------------------------------------------- one case


@dataclass
class Outcome:
    index: int
    status: str  # "ok", "rejected", "crash"
    seconds: float
    detail: str = ""
    mutations: list[str] = field(default_factory=list)
    cli_exit: int | None = None  # exit code when the case also went through the CLI


class _Checker:
    """Lives in the worker: runs cases through decode_ldr, read_ldr and sometimes the CLI."""

    def __init__(self, workdir: Path, weights: Path | None, cli_every: int):
        import numpy as np
        import torch
        from typer.testing import CliRunner

        from fhdr_cli.cli import app
        from fhdr_cli.errors import InputError, UsageError
        from fhdr_cli.io.hdr_files import read_hdr
        from fhdr_cli.io.photo import decode_ldr, read_ldr

        torch.set_num_threads(1)
        self.np, self.app, self.read_hdr = np, app, read_hdr
        self.decode_ldr, self.read_ldr = decode_ldr, read_ldr
        self.expected = (InputError, UsageError)
        self.workdir, self.cli_every = workdir, cli_every
        self.seeds = seed_images()
        try:
            self.runner = CliRunner(mix_stderr=False)
        except TypeError:  # click >= 8.2 always keeps stderr apart
            self.runner = CliRunner()
        if cli_every and weights is None:
            weights = workdir / "random-weights.pt"
            _random_weights(weights)
        self.weights = weights

    def check_image(self, image, what: str) -> str | None:
        np = self.np
        rgb, alpha = image.rgb, image.alpha
        if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[2] == 3):
            return f"{what}: bad rgb array {getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}"
        if rgb.shape[0] < 1 or rgb.shape[1] < 1:
            return f"{what}: empty image {rgb.shape}"
        if not (np.isfinite(rgb).all() and rgb.min() >= 0.0 and rgb.max() <= 1.0):
            return f"{what}: rgb values outside [0, 1]"
        if alpha is not None and (alpha.dtype != np.float32 or alpha.shape != rgb.shape[:2]):
            return f"{what}: bad alpha {alpha.dtype} {alpha.shape} for rgb {rgb.shape}"
        if image.bit_depth not in (8, 16):
            return f"{what}: bit depth {image.bit_depth}"
        return None

    def run(self, seed: int, index: int) -> Outcome:
        ext, data, mutations = make_case(seed, index, self.seeds)
        start = time.perf_counter()
        status, detail = "ok", ""
        self.cli_exit = None
        try:
            status, detail = self._run(index, ext, data)
        except BaseException as exc:  # noqa: BLE001 - everything unexpected is the finding
            status, detail = "crash", "".join(traceback.format_exception(exc)).strip()
        return Outcome(index, status, time.perf_counter() - start, detail, mutations, self.cli_exit)

    def _run(self, index: int, ext: str, data: bytes) -> tuple[str, str]:
        # 1. the bytes
        try:
            image = self.decode_ldr(data, f"case{index}{ext}")
        except self.expected:
            decoded = False
        else:
            decoded = True
            problem = self.check_image(image, "decode_ldr")
            if problem:
                return "crash", problem
        # 2. the read step of `fhdr convert`, from a file
        path = self.workdir / f"case {index} ñ{ext}"
        path.write_bytes(data)
        try:
            try:
                image = self.read_ldr(path)
            except self.expected:
                if decoded:
                    return "crash", "read_ldr refused what decode_ldr accepted"
            else:
                problem = self.check_image(image, "read_ldr")
                if problem:
                    return "crash", problem
            # 3. the real CLI, for a sample (of small pictures: the model's time on a big one
            #    that decodes correctly is work, not a hang)
            small = not decoded or image.rgb.shape[0] * image.rgb.shape[1] <= CLI_MAX_PIXELS
            if self.cli_every and index % self.cli_every == 0 and small:
                problem = self._cli(path)
                if problem:
                    return "crash", problem
        finally:
            path.unlink(missing_ok=True)
        return ("ok" if decoded else "rejected"), ""

    def _cli(self, src: Path) -> str | None:
        dst = src.with_suffix(".exr")
        args = ["convert", str(src), "-o", str(dst), "--iterations", "1", "--device", "cpu", "--weights", str(self.weights)]
        result = self.runner.invoke(self.app, args)
        self.cli_exit = result.exit_code
        try:
            stderr = result.stderr
        except ValueError:
            stderr = result.output
        text = result.output + stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            tb = "".join(traceback.format_exception(result.exception)).strip()
            return f"CLI raised {type(result.exception).__name__}:\n{tb}"
        if result.exit_code not in (0, 1, 2):
            return f"CLI exit code {result.exit_code}: {text.strip()}"
        if "Traceback" in text:
            return f"CLI printed a traceback:\n{text}"
        leftovers = [p.name for p in self.workdir.iterdir() if ".tmp" in p.name]
        if leftovers:
            return f"CLI left temporary files {leftovers}"
        try:
            if result.exit_code == 0:
                if not dst.is_file():
                    return "CLI exited 0 without writing the output"
                try:
                    self.read_hdr(dst)
                except Exception as exc:  # noqa: BLE001
                    return f"CLI wrote an unreadable output: {exc}"
                return None
            lines = [line for line in stderr.splitlines() if line.strip()]
            if len(lines) != 1 or not lines[0].startswith("fhdr: error:"):
                return f"CLI exit {result.exit_code} with stderr {stderr!r}"
            if dst.exists():
                return "CLI failed but left an output file"
        finally:
            dst.unlink(missing_ok=True)
        return None


def _random_weights(path: Path) -> None:
    import torch

    from fhdr_cli.network.fhdr import FHDR
    from fhdr_cli.network.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = FHDR().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.05)
    save_checkpoint(path, model, {"phases": [], "steps": 0, "note": "random weights for fuzzing"})


# ---------------------------------------------------------------------------- driver


def _worker(conn, seed: int, indices: list[int], weights: str | None, cli_every: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fhdr-fuzz-") as tmp:
        checker = _Checker(Path(tmp), Path(weights) if weights else None, cli_every)
        conn.send(("ready", None))
        for index in indices:
            conn.send(("start", index))
            conn.send(("done", checker.run(seed, index)))
        conn.send(("end", None))
    conn.close()


@dataclass
class Report:
    cases: int = 0
    crashes: list[Outcome] = field(default_factory=list)
    hangs: list[Outcome] = field(default_factory=list)
    decoded: int = 0
    rejected: int = 0
    cli_exits: dict[int, int] = field(default_factory=dict)  # CLI exit code -> how many cases
    seconds: float = 0.0

    @property
    def line(self) -> str:
        return f"fuzz: {self.cases} cases, {len(self.crashes)} crashes, {len(self.hangs)} hangs"

    def record(self, outcome: Outcome, timeout: float) -> None:
        self.cases += 1
        if outcome.cli_exit is not None:
            self.cli_exits[outcome.cli_exit] = self.cli_exits.get(outcome.cli_exit, 0) + 1
        if outcome.status == "crash":
            self.crashes.append(outcome)
        elif outcome.status == "hang" or outcome.seconds > timeout:
            outcome.status = "hang"
            self.hangs.append(outcome)
        elif outcome.status == "ok":
            self.decoded += 1
        else:
            self.rejected += 1


def run(cases: int = 1000, seed: int = 0, *, timeout: float = 5.0, cli_every: int = 100,
        weights: Path | None = None, only: int | None = None, save: Path | None = None,
        log=None) -> Report:
    """Run cases 0..cases-1 (or just `only`) in a worker process; returns the tallies."""
    say = log or (lambda text: None)
    todo = [only] if only is not None else list(range(cases))
    report = Report()
    ctx = mp.get_context("spawn")  # a fork of a process that ran torch can deadlock in OpenMP
    started = time.perf_counter()
    startup_grace = 180.0  # importing torch and cv2 in a fresh worker on a busy machine
    patience = max(2 * timeout, timeout + 5.0)  # past this a case is killed (it is a hang either way)
    while todo:
        parent, child = ctx.Pipe()
        args = (child, seed, todo, str(weights) if weights else None, cli_every)
        proc = ctx.Process(target=_worker, args=args, daemon=True)
        proc.start()
        child.close()
        seen: set[int] = set()
        current, case_started = None, 0.0
        try:
            if not parent.poll(startup_grace):
                raise RuntimeError("the fuzz worker did not start")
            parent.recv()
            while True:
                if not parent.poll(patience):
                    if current is None:
                        raise RuntimeError("the fuzz worker stalled between cases")
                    elapsed = time.perf_counter() - case_started
                    report.record(Outcome(current, "hang", elapsed, f"no answer after {elapsed:.0f} s; worker killed"), timeout)
                    seen.add(current)
                    break
                kind, value = parent.recv()
                if kind == "start":
                    current, case_started = value, time.perf_counter()
                elif kind == "done":
                    report.record(value, timeout)
                    seen.add(value.index)
                    current = None
                    if report.cases % 1000 == 0:
                        say(f"  {report.cases} cases, {len(report.crashes)} crashes, {len(report.hangs)} hangs "
                            f"({time.perf_counter() - started:.0f} s)")
                else:  # "end"
                    break
        except EOFError:  # the worker died under a case: a crash in native code (or out of memory)
            proc.join(5)
            if current is None:
                raise RuntimeError(f"the fuzz worker died between cases (exit code {proc.exitcode})") from None
            elapsed = time.perf_counter() - case_started
            report.record(Outcome(current, "crash", elapsed, f"worker died (exit code {proc.exitcode})"), timeout)
            seen.add(current)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            parent.close()
        todo = [i for i in todo if i not in seen]
    report.seconds = time.perf_counter() - started

    seeds = seed_images() if (report.crashes or report.hangs) else []
    for kind, items in (("crash", report.crashes), ("hang", report.hangs)):
        for o in items:
            ext, data, mutations = make_case(seed, o.index, seeds)
            say(f"{kind}: case {o.index} (replay: --seed {seed} --only {o.index}), mutations {mutations}, "
                f"{o.seconds:.2f} s\n  " + (o.detail or "").replace("\n", "\n  "))
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"{kind}-{seed}-{o.index}{ext}").write_bytes(data)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="how many mutated files to try")
    parser.add_argument("--seed", type=int, default=0, help="run seed; case i of a seed is always the same file")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds after which a case counts as a hang")
    parser.add_argument("--cli-every", type=int, default=100,
                        help="send every Nth case through the real `fhdr convert` (0: never)")
    parser.add_argument("--weights", type=Path, help="checkpoint for the CLI cases (default: random weights)")
    parser.add_argument("--only", type=int, help="replay just this case index")
    parser.add_argument("--save", type=Path, help="folder to keep crashing / hanging inputs in")
    args = parser.parse_args(argv)
    report = run(args.cases, args.seed, timeout=args.timeout, cli_every=args.cli_every, weights=args.weights,
                 only=args.only, save=args.save, log=lambda text: print(text, flush=True))
    cli = ", ".join(f"exit {code}: {n}" for code, n in sorted(report.cli_exits.items())) or "none"
    print(f"({report.decoded} decoded, {report.rejected} rejected; through the CLI: {cli}; "
          f"{report.seconds:.0f} s)", flush=True)
    print(report.line, flush=True)
    return 1 if report.crashes or report.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
