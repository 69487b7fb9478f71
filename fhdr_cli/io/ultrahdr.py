"""Ultra HDR JPEG: the photo itself, plus a gain map that HDR screens use to brighten its highlights.

A gain-map JPEG is an ordinary JPEG (the "base", what every old viewer shows) followed by a second,
small JPEG (the gain map) and metadata that say how to combine them. A display with headroom H
(how many times brighter than SDR white it can go) shows, per pixel and channel,

    hdr = (sdr + OffsetSDR) * 2 ** (w * log2_gain) - OffsetHDR,
    log2_gain = GainMapMin + (GainMapMax - GainMapMin) * (stored / 255) ** (1 / Gamma),

with w = 1 at H >= HDRCapacityMax, 0 at H <= HDRCapacityMin, and in between on a log scale (all
GainMap*/HDRCapacity* values in stops). The same numbers are written three ways, because readers
differ in which they look at:
- XMP `hdrgm` (Adobe gain map 1.0; Android Ultra HDR v1.1): in the gain map's own XMP, plus
  hdrgm:Version and the GContainer directory (which image is which, and the gain map's length)
  in the primary's XMP. Android 14+, Chrome/Skia, Lightroom/ACR.
- ISO 21496-1 binary metadata in APP2 (the version alone in the primary, all of it in the gain
  map): what iOS 18 / macOS 15 and recent Chrome and libultrahdr read first.
- An MPF (CIPA DC-007) index in the primary's APP2: where both images start and how long they are.

For a JPEG photo the base is the photo's own bytes: its compressed data, EXIF, ICC profile and every
other segment are kept as they are; only the new segments are inserted (and stale ones removed: an
old MPF index, whose offsets would be wrong, and images appended after the photo's end).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..colour.tonemap import exposure
from ..colour.transfer import srgb_to_linear
from ..errors import FhdrError, InputError, UsageError
from .hdr_files import HDR_EXTENSIONS, hdr_format
from .jpeg_markers import JPEG_SOF, JpegSegment, header_segments
from .photo import JPEG_MARKER_NOT_RST, LdrImage, as_shot, as_stored, decode_ldr

ULTRAHDR_EXTENSIONS = (".jpg", ".jpeg")
# Headroom of today's HDR screens: phones and laptops show 3-4 stops above SDR white (Apple's XDR
# and recent Android phones about 4 at most). Brighter recovered highlights are capped there; the
# cap also keeps the 8-bit gain map's steps fine (4 stops of range: 1/64 stop per step).
DEFAULT_MAX_BOOST_STOPS = 4.0
# Both offsets: keeps the ratio finite in black pixels (libultrahdr's choice, 1/64 of SDR white).
OFFSET = 1.0 / 64.0
# Gain map encoding, chosen by measurement (README, "Ultra HDR"): see GainMapSettings.
GAIN_MAP_QUALITY = 90
BASE_QUALITY = 95  # a PNG's new JPEG base: high quality, no chroma subsampling
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec.709 weights, for a one-channel map
_BAND_BLOCKS = 64  # rows of gain map blocks computed at a time
# Metadata values are rounded to this denominator, so XMP, ISO and the gain map say the same thing.
_DENOMINATOR = 1 << 16

_XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\0"
_ISO_NAMESPACE = b"urn:iso:std:iso:ts:21496:-1\0"
_MPF_SIGNATURE = b"MPF\0"
_EXIF_SIGNATURE = b"Exif\0\0"
_EOI, _APP0, _APP1, _APP2 = 0xD9, 0xE0, 0xE1, 0xE2
_ISO_FLAG_BASE_COLOUR_SPACE, _ISO_FLAG_COMMON_DENOMINATOR = 0x40, 0x08
# MPF: TIFF tags of the MP Index IFD, and the MP entry attribute of a baseline primary JPEG
_MPF_VERSION, _MPF_COUNT, _MPF_ENTRIES, _MPF_PRIMARY = 0xB000, 0xB001, 0xB002, 0x030000
_HDRGM = "http://ns.adobe.com/hdr-gain-map/1.0/"
_CONTAINER = "http://ns.google.com/photos/1.0/container/"
_ITEM = "http://ns.google.com/photos/1.0/container/item/"


@dataclass(frozen=True)
class GainMapSettings:
    """How the gain map is stored. Three channels: the network brightens colours differently (a clipped
    white sky comes back orange), which one luminance channel cannot say. At a quarter of the photo's
    width and height the gain map costs a fifteenth of a full-resolution one and loses little, as
    recovered highlights are smooth: what it loses is at their sharp edges and in small bright spots
    (README, "Ultra HDR JPEG", has the measurements)."""

    channels: int = 3
    scale: int = 4  # the gain map is 1/scale of the base's width and height
    quality: int = GAIN_MAP_QUALITY


@dataclass(frozen=True)
class GainMapMetadata:
    """The hdrgm / ISO 21496-1 values, the same for all channels; log2 values in stops."""

    gain_min: float
    gain_max: float
    capacity_max: float
    gamma: float = 1.0
    offset_sdr: float = OFFSET
    offset_hdr: float = OFFSET
    capacity_min: float = 0.0


def parse_max_boost(text: str) -> float:
    """--max-boost: '4' (stops) or '16x' (a ratio) -> stops; a UsageError for anything else."""
    value = text.strip().lower()
    try:
        stops = math.log2(float(value[:-1])) if value.endswith("x") else float(value)
    except ValueError:
        stops = math.nan
    if not (0.0 < stops <= 16.0):
        raise UsageError(f"--max-boost must be stops (e.g. 4) or a ratio (e.g. 16x), above 0 and at most 16 stops, "
                         f"got '{text}'")
    return stops


def is_ultrahdr_path(path: Path | str) -> bool:
    return Path(path).suffix.lower() in ULTRAHDR_EXTENSIONS


def output_format(path: Path | str) -> str:
    """'exr', 'hdr' or 'jpg' (Ultra HDR) from the output's extension; anything else is a UsageError."""
    path = Path(path)
    if is_ultrahdr_path(path):
        return "jpg"
    if path.suffix.lower() not in HDR_EXTENSIONS:
        kind = f"'{path.suffix}' files" if path.suffix else "files without an extension"
        raise UsageError(f"{path}: cannot write {kind}; use .exr, .hdr or .jpg (Ultra HDR)")
    return hdr_format(path)


def ultrahdr_file(photo: bytes, image: LdrImage, hdr: np.ndarray, max_boost: float = DEFAULT_MAX_BOOST_STOPS,
                  settings: GainMapSettings = GainMapSettings()) -> bytes:
    """The Ultra HDR JPEG for a photo (`photo`: its file's bytes; `image`: as read_ldr read it) and the
    converter's `hdr` of it, in the photo's own primaries (`rgb_to_rec709=None`).

    A colour JPEG is the base as it is, and the gain map is laid out as its pixels are stored (the EXIF
    orientation turns both alike). Anything else (PNG, TIFF, HEIC, grey or CMYK JPEG) gets a new sRGB JPEG
    base of the picture as shot, Rec.709 primaries, alpha dropped."""
    if photo.startswith(b"\xff\xd8") and keeps_as_base(photo):
        base = photo
        hdr = as_stored(hdr, image.orientation)
    else:
        sdr = srgb_decode(image.rgb)
        if image.rgb_to_rec709 is not None:  # the base is sRGB: take both to Rec.709
            matrix = image.rgb_to_rec709.T.astype(np.float32)
            sdr, hdr = sdr @ matrix, hdr @ matrix
        base = encode_jpeg(exposure(sdr), BASE_QUALITY)  # sRGB-encoded, clipped to [0, 1]
    # the gain is over the base as decoders will see it: its decoded pixels, compression errors included
    pixels = decode_base(base)
    if pixels.shape[:2] != hdr.shape[:2]:
        raise FhdrError(f"the base is {pixels.shape[1]}x{pixels.shape[0]} pixels, the HDR {hdr.shape[1]}x{hdr.shape[0]}")
    pixels, meta = gain_map(pixels, hdr, max_boost, settings)
    return assemble(base, encode_jpeg(pixels, settings.quality), meta)


def _rounded(value: float) -> float:
    return round(value * _DENOMINATOR) / _DENOMINATOR


def gain_map(base: np.ndarray, hdr: np.ndarray, max_boost: float = DEFAULT_MAX_BOOST_STOPS,
             settings: GainMapSettings = GainMapSettings()) -> tuple[np.ndarray, GainMapMetadata]:
    """The gain map (uint8, h x w or h x w x 3 RGB) and its metadata that turn `base` into `hdr`.

    `base`: the base's pixels as a decoder sees them (H x W x 3 uint8, sRGB-encoded); `hdr`: H x W x 3
    linear light in the base's primaries. Gains come from the image itself: GainMapMin/Max are the
    smallest and largest log2 ratios, the largest capped at `max_boost` stops, which is also the HDR
    capacity (the display headroom at which the whole gain applies)."""
    log_ratio = _block_log_ratio(base, hdr, settings)
    lowest = _rounded(max(float(log_ratio.min()), -max_boost))
    highest = _rounded(min(float(log_ratio.max()), max_boost))
    highest = max(highest, lowest + 1.0 / 64.0)  # a flat map still needs a range to encode into
    metadata = GainMapMetadata(gain_min=lowest, gain_max=highest, capacity_max=max(highest, 1.0 / 64.0))
    encoded = np.clip((log_ratio - lowest) / (highest - lowest), 0.0, 1.0)
    pixels = np.rint(encoded * 255.0).astype(np.uint8)
    return pixels[..., 0] if settings.channels == 1 else pixels, metadata


def _block_log_ratio(base: np.ndarray, hdr: np.ndarray, settings: GainMapSettings) -> np.ndarray:
    """The mean log2 gain over each scale x scale block (the last row and column of blocks cover what is
    left), as the decoder interpolates the map back: h x w x channels float32. One luminance ratio for
    one channel. A band of rows at a time, so a large photo needs a few MB here, not gigabytes."""
    scale = settings.scale
    height, width = base.shape[:2]
    rows, cols = -(-height // scale), -(-width // scale)
    out = np.empty((rows, cols, settings.channels), np.float32)
    col_counts = np.minimum(scale, width - np.arange(cols) * scale)
    for row0 in range(0, rows, _BAND_BLOCKS):
        y0, y1 = row0 * scale, min(height, (row0 + _BAND_BLOCKS) * scale)
        sdr = srgb_decode(base[y0:y1].astype(np.float32) / 255.0)
        high = np.maximum(hdr[y0:y1], 0.0, dtype=np.float32)
        if settings.channels == 1:
            sdr, high = sdr @ _LUMINANCE, high @ _LUMINANCE
        ratio = np.log2((high + OFFSET) / (sdr + OFFSET)).reshape(y1 - y0, width, settings.channels)
        band_rows = -(-(y1 - y0) // scale)
        padded = np.zeros((band_rows * scale, cols * scale, settings.channels), np.float32)
        padded[: y1 - y0, :width] = ratio
        sums = padded.reshape(band_rows, scale, cols, scale, settings.channels).sum(axis=(1, 3))
        row_counts = np.minimum(scale, (y1 - y0) - np.arange(band_rows) * scale)
        out[row0 : row0 + band_rows] = sums / (row_counts[:, None, None] * col_counts[None, :, None])
    return out


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> float32 linear light: how a gain-map decoder reads the base."""
    return srgb_to_linear(torch.from_numpy(np.asarray(encoded, np.float32))).numpy()


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """uint8 grey (h x w) or RGB (h x w x 3) -> JPEG bytes, colour without chroma subsampling (the gain
    map's channels are independent gains; a base from a PNG keeps its colour edges)."""
    if pixels.ndim == 3:
        params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(pixels[..., ::-1]), params)
    else:
        ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FhdrError("OpenCV could not encode a JPEG image")
    return data.tobytes()


def decode_base(jpeg: bytes) -> np.ndarray:
    """The base JPEG's pixels as stored (EXIF orientation not applied), uint8 RGB."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise FhdrError("OpenCV could not decode the base JPEG")
    return np.ascontiguousarray(bgr[..., ::-1])


def keeps_as_base(jpeg: bytes) -> bool:
    """Whether a photo's JPEG can serve as the base as it is: three components (YCbCr), which every
    gain-map reader expects, and a header we can insert into (read_ldr tolerates junk between
    segments, which we would not carry over). Grey and CMYK JPEGs get a new base like a PNG."""
    try:
        segments = _header_segments(jpeg)
        _image_end(jpeg, segments[-1][2])
    except ValueError:
        return False
    return any(marker in JPEG_SOF and end - start >= 10 and jpeg[start + 9] == 3 for marker, start, end in segments)


# --- the container -----------------------------------------------------------------------------------

def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise FhdrError(f"a JPEG segment cannot hold {len(payload):,} bytes")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _header_segments(jpeg: bytes) -> list[JpegSegment]:
    """Every segment from SOI up to and including the first SOS, the whole header checked before any is
    used; strict, so a header with stray bytes we would not carry over is a ValueError too."""
    return list(header_segments(jpeg))


def _image_end(jpeg: bytes, pos: int) -> int:
    """One past the EOI that ends the image whose scan data starts at `pos` (progressive files have
    more scans and tables in between); what follows it is not part of the image."""
    while True:
        found = JPEG_MARKER_NOT_RST.search(jpeg, pos)
        if found is None or found.end() >= len(jpeg):
            raise ValueError("JPEG without an end-of-image marker")
        marker = jpeg[found.end()]
        if marker == _EOI:
            return found.end() + 1
        if found.end() + 3 > len(jpeg):
            raise ValueError("JPEG without an end-of-image marker")
        (length,) = struct.unpack_from(">H", jpeg, found.end() + 1)
        pos = found.end() + 1 + length


def _primary_xmp(gain_map_length: int, photo_xmp: bytes | None) -> bytes:
    """The primary's XMP packet: hdrgm:Version and the GContainer directory, added to the photo's own
    packet when it has one (as one more rdf:Description, so nothing of the photo's is lost)."""
    description = (
        f'<rdf:Description rdf:about="" xmlns:hdrgm="{_HDRGM}" xmlns:Container="{_CONTAINER}" '
        f'xmlns:Item="{_ITEM}" hdrgm:Version="1.0"><Container:Directory><rdf:Seq>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" '
        f'Item:Length="{gain_map_length}"/></rdf:li></rdf:Seq></Container:Directory></rdf:Description>'
    ).encode()
    if photo_xmp is not None and photo_xmp.count(b"</rdf:RDF>") == 1 and _HDRGM.encode() not in photo_xmp \
            and _CONTAINER.encode() not in photo_xmp:
        return photo_xmp.replace(b"</rdf:RDF>", description + b"</rdf:RDF>")
    # none, or an old gain map's (its directory would point at the wrong image): ours alone
    return _xmp_packet(description)


def _xmp_packet(description: bytes) -> bytes:
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            + description + b"</rdf:RDF></x:xmpmeta>")


def _gain_map_xmp(meta: GainMapMetadata) -> bytes:
    values = {"GainMapMin": meta.gain_min, "GainMapMax": meta.gain_max, "Gamma": meta.gamma,
              "OffsetSDR": meta.offset_sdr, "OffsetHDR": meta.offset_hdr, "HDRCapacityMin": meta.capacity_min,
              "HDRCapacityMax": meta.capacity_max}
    attributes = " ".join(f'hdrgm:{name}="{value!r}"' for name, value in values.items())
    return _xmp_packet(f'<rdf:Description rdf:about="" xmlns:hdrgm="{_HDRGM}" hdrgm:Version="1.0" {attributes} '
                       'hdrgm:BaseRenditionIsHDR="False"/>'.encode())


def _iso_metadata(meta: GainMapMetadata) -> bytes:
    """ISO 21496-1 gain map metadata: versions, flags, then numerator/denominator pairs (headrooms, then
    min, max, gamma, base and alternate offsets of one channel, as all channels share them). Every pair
    spelled out: the shorter common-denominator form (flag 0x08) is read by libultrahdr but not by
    Skia's parser (Chrome, Android), which always reads pairs."""
    d = _DENOMINATOR
    n = lambda value: round(value * d)  # noqa: E731
    return struct.pack(">HHB" + "II" * 2 + "iIiIIIiIiI", 0, 0, _ISO_FLAG_BASE_COLOUR_SPACE,  # gains in the base's space
                       n(meta.capacity_min), d, n(meta.capacity_max), d, n(meta.gain_min), d, n(meta.gain_max), d,
                       n(meta.gamma), d, n(meta.offset_sdr), d, n(meta.offset_hdr), d)


def _mpf(primary_size: int, gain_map_offset: int, gain_map_size: int) -> bytes:
    """The MPF APP2 payload: an MP Index IFD (big-endian TIFF) listing the primary image (offset 0 by
    definition) and the gain map, whose offset counts from the TIFF header's byte-order mark."""
    entries_offset = 8 + 2 + 3 * 12 + 4
    ifd = (b"MM\0*" + struct.pack(">I", 8) + struct.pack(">H", 3)
           + struct.pack(">HHI4s", _MPF_VERSION, 7, 4, b"0100")
           + struct.pack(">HHII", _MPF_COUNT, 4, 1, 2)
           + struct.pack(">HHII", _MPF_ENTRIES, 7, 32, entries_offset)
           + struct.pack(">I", 0))
    entries = (struct.pack(">IIIHH", _MPF_PRIMARY, primary_size, 0, 0, 0)
               + struct.pack(">IIIHH", 0, gain_map_size, gain_map_offset, 0, 0))
    return _MPF_SIGNATURE + ifd + entries


def assemble(base: bytes, gain_map_jpeg: bytes, meta: GainMapMetadata) -> bytes:
    """The Ultra HDR file: `base` with the new segments inserted after its leading JFIF/EXIF segments, its
    other segments and compressed data untouched, then the gain map JPEG with its own metadata."""
    try:
        segments = _header_segments(base)
        end = _image_end(base, segments[-1][2])
        gm_segments = _header_segments(gain_map_jpeg)
    except ValueError as exc:
        raise FhdrError(f"cannot build the Ultra HDR file: {exc}") from None

    # the gain map: its metadata after its SOI (and JFIF APP0, which must come first)
    gm_insert = gm_segments[0][2] if gm_segments[0][0] == _APP0 else 2
    gain_map_file = (gain_map_jpeg[:gm_insert] + _segment(_APP1, _XMP_NAMESPACE + _gain_map_xmp(meta))
                     + _segment(_APP2, _ISO_NAMESPACE + _iso_metadata(meta)) + gain_map_jpeg[gm_insert:])

    kept, photo_xmp, insert_at = [], None, None
    for marker, start, stop in segments:
        payload = base[start + 4 : stop]
        if marker == _APP1 and payload.startswith(_XMP_NAMESPACE):
            photo_xmp = photo_xmp if photo_xmp is not None else payload[len(_XMP_NAMESPACE):]
            continue
        if marker == _APP2 and (payload.startswith(_MPF_SIGNATURE) or payload.startswith(_ISO_NAMESPACE)):
            continue  # a stale index or gain map version: replaced by ours
        if insert_at is None and not (marker == _APP0 or (marker == _APP1 and payload.startswith(_EXIF_SIGNATURE))):
            insert_at = len(kept)
        kept.append(base[start:stop])
    xmp = _XMP_NAMESPACE + _primary_xmp(len(gain_map_file), photo_xmp)
    if len(xmp) + 2 > 0xFFFF:
        raise FhdrError(f"the photo's XMP metadata is too large to add the gain map's directory to "
                        f"({len(xmp):,} bytes; a JPEG segment holds 65,533)")
    head = [base[:2], *kept[:insert_at], _segment(_APP1, xmp),
            _segment(_APP2, _ISO_NAMESPACE + struct.pack(">HH", 0, 0))]
    tail = [*kept[insert_at:], base[segments[-1][2] : end]]
    before_mpf = sum(map(len, head))
    mpf_length = len(_segment(_APP2, _mpf(0, 0, 0)))
    primary_size = before_mpf + mpf_length + sum(map(len, tail))
    # offsets count from the MPF header's byte-order mark: after FF E2, the length and "MPF\0"
    mpf = _segment(_APP2, _mpf(primary_size, primary_size - (before_mpf + 8), len(gain_map_file)))
    return b"".join([*head, mpf, *tail, gain_map_file])


# --- reading (fhdr tonemap-preview) ------------------------------------------------------------------

def read_ultrahdr(path: Path | str) -> np.ndarray:
    """The HDR rendition of a gain-map JPEG (ours, a phone's, libultrahdr's) at full boost, as linear
    Rec.709 RGB float32 H x W x 3, EXIF orientation applied; like read_hdr for EXR and Radiance files.
    The metadata come from the gain map's ISO 21496-1 segment, else its XMP hdrgm attributes."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    image = decode_ldr(data, str(path))  # validates the primary; its orientation and colour profile
    try:
        gain_map_jpeg = _gain_map_jpeg(data)
        meta = _read_metadata(gain_map_jpeg)
    except (ValueError, struct.error, ZeroDivisionError) as exc:
        raise InputError(f"{path}: not an Ultra HDR (gain map) JPEG ({exc or 'a zero denominator'})") from None
    base = decode_base(data)
    # checked like any photo, and never more pixels than its base (a hostile file could declare more);
    # then its raw codes (decode_ldr would apply the ICC profile some gain maps carry)
    decode_ldr(gain_map_jpeg, f"{path} (gain map)", max_pixels=base.shape[0] * base.shape[1])
    gains = cv2.imdecode(np.frombuffer(gain_map_jpeg, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    gains = cv2.resize(gains, base.shape[1::-1], interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    gains = gains[..., 2::-1] if gains.ndim == 3 else gains[..., None]  # BGR -> RGB
    low, high, gamma, offset_sdr, offset_hdr = (np.asarray(v, np.float32) for v in meta)
    with np.errstate(over="ignore"):
        log_gain = low + (high - low) * gains ** (1.0 / gamma)
        hdr = (srgb_decode(base.astype(np.float32) / 255.0) + offset_sdr) * np.exp2(log_gain) - offset_hdr
    hdr = np.nan_to_num(np.maximum(as_shot(hdr, image.orientation), 0.0), nan=0.0, posinf=0.0)  # as read_hdr does
    if image.rgb_to_rec709 is not None:
        hdr = hdr @ image.rgb_to_rec709.T.astype(np.float32)
    return np.ascontiguousarray(hdr, dtype=np.float32)


def _gain_map_jpeg(data: bytes) -> bytes:
    """The gain map image: MPF's second entry, else the JPEG right after the primary."""
    segments = _header_segments(data)
    for marker, start, end in segments:
        if marker == _APP2 and data[start + 4 : start + 8] == _MPF_SIGNATURE:
            tiff = start + 8  # MPF offsets count from here
            order = {b"MM\0*": ">", b"II*\0": "<"}.get(data[tiff : tiff + 4])
            if order is None:
                break
            (ifd,) = struct.unpack_from(order + "I", data, tiff + 4)
            (count,) = struct.unpack_from(order + "H", data, tiff + ifd)
            for entry in range(tiff + ifd + 2, tiff + ifd + 2 + 12 * min(count, 64), 12):
                tag, _, length, offset = struct.unpack_from(order + "HHII", data, entry)
                if tag == _MPF_ENTRIES and length >= 32:
                    _, size, image_offset = struct.unpack_from(order + "III", data, tiff + offset + 16)
                    found = data[tiff + image_offset : tiff + image_offset + size]
                    if found.startswith(b"\xff\xd8"):
                        return found
            break
    rest = data[_image_end(data, segments[-1][2]):]
    if b"\xff\xd8\xff" not in rest:
        raise ValueError("no gain map image after the photo")
    return rest[rest.index(b"\xff\xd8\xff"):]


def _read_metadata(gain_map_jpeg: bytes) -> tuple[list[float], ...]:
    """(GainMapMin, GainMapMax, Gamma, OffsetSDR, OffsetHDR), three values each, log2 ones in stops."""
    xmp = None
    for marker, start, end in _header_segments(gain_map_jpeg):
        payload = gain_map_jpeg[start + 4 : end]
        if marker == _APP2 and payload.startswith(_ISO_NAMESPACE) and len(payload) > len(_ISO_NAMESPACE) + 4:
            return _parse_iso(payload[len(_ISO_NAMESPACE):])
        if marker == _APP1 and payload.startswith(_XMP_NAMESPACE):
            xmp = payload[len(_XMP_NAMESPACE):].decode("utf-8", "replace")
    if xmp is None or "hdrgm:GainMapMax" not in xmp:
        raise ValueError("no gain map metadata (ISO 21496-1 or XMP hdrgm)")
    if re.search(r'hdrgm:BaseRenditionIsHDR\s*=\s*"True"|<hdrgm:BaseRenditionIsHDR>True<', xmp):
        raise ValueError("an HDR base rendition is not supported")
    defaults = {"GainMapMin": 0.0, "GainMapMax": None, "Gamma": 1.0, "OffsetSDR": OFFSET, "OffsetHDR": OFFSET}
    return tuple(_xmp_values(xmp, name, default) for name, default in defaults.items())


def _xmp_values(xmp: str, name: str, default: float | None) -> list[float]:
    """An hdrgm property written as an attribute, an element, or an rdf:Seq of three, as three floats."""
    found = re.search(rf'hdrgm:{name}\s*=\s*"([^"]*)"|<hdrgm:{name}>(.*?)</hdrgm:{name}>', xmp, re.S)
    if found is None:
        if default is None:
            raise ValueError(f"no hdrgm:{name}")
        return [default] * 3
    text = found[1] if found[1] is not None else found[2]
    values = [float(v) for v in re.findall(r"<rdf:li>([^<]*)</rdf:li>", text)] or [float(text)]
    if len(values) not in (1, 3) or not all(math.isfinite(v) for v in values) or (name == "Gamma" and min(values) <= 0):
        raise ValueError(f"bad hdrgm:{name}")
    return values * 3 if len(values) == 1 else values


def _parse_iso(data: bytes) -> tuple[list[float], ...]:
    """ISO 21496-1 gain map metadata (the layout _iso_metadata writes, with or without a common
    denominator, one or three channels)."""
    minimum_version, _, flags = struct.unpack_from(">HHB", data)
    if minimum_version != 0:
        raise ValueError(f"ISO 21496-1 metadata version {minimum_version} is not supported")
    if flags & 0x04:
        raise ValueError("an HDR base rendition is not supported")
    channels, pos = (3 if flags & 0x80 else 1), 5
    fields = []  # per channel: min, max, gamma, base offset, alternate offset
    if flags & _ISO_FLAG_COMMON_DENOMINATOR:
        (denominator,) = struct.unpack_from(">I", data, pos)
        pos += 12  # the denominator and both headrooms
        for _ in range(channels):
            fields.append([v / denominator for v in struct.unpack_from(">iiIii", data, pos)])
            pos += 20
    else:
        pos += 16
        for _ in range(channels):
            n = struct.unpack_from(">iIiIIIiIiI", data, pos)
            fields.append([n[i] / n[i + 1] for i in range(0, 10, 2)])
            pos += 40
    if any(not math.isfinite(v) for channel in fields for v in channel):
        raise ValueError("bad ISO 21496-1 values")
    fields = fields * 3 if channels == 1 else fields
    if any(gamma <= 0 for _, _, gamma, _, _ in fields):
        raise ValueError("gamma must be positive")
    return tuple(list(values) for values in zip(*fields))
