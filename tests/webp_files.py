"""WebP files for the tests: OpenCV's encoder for the pixels, RIFF chunks written here for what it
cannot add (an ICC profile, EXIF, a declared size of our choosing)."""

from __future__ import annotations

import struct

import cv2
import numpy as np

ICC_FLAG, ALPHA_FLAG, EXIF_FLAG, ANIMATION_FLAG = 0x20, 0x10, 0x08, 0x02


def chunk(kind: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: type, little-endian length, payload, a pad byte to an even length."""
    return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def riff(chunks: list[bytes]) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def chunks_of(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of a WebP's chunks."""
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos + 4)
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return chunks


def vp8x(flags: int, width: int, height: int) -> bytes:
    return chunk(b"VP8X", bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))


def webp_file(rgb: np.ndarray, quality: int = 101, icc: bytes | None = None, exif: bytes | None = None,
              preserve_colour: bool = False) -> bytes:
    """A WebP of RGB(A) uint8 pixels (quality 101: lossless), with an ICCP and EXIF chunk if given
    (then in the extended format, a VP8X chunk first, flags set as a writer sets them)."""
    bgr = rgb[:, :, 2::-1] if rgb.shape[2] == 3 else rgb[:, :, [2, 1, 0, 3]]
    params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    if preserve_colour:  # lossless keeps the colour under alpha 0 too
        params += [cv2.IMWRITE_WEBP_LOSSLESS_MODE, cv2.IMWRITE_WEBP_LOSSLESS_PRESERVE_COLOR]
    ok, buf = cv2.imencode(".webp", np.ascontiguousarray(bgr), params)
    assert ok
    data = buf.tobytes()
    if icc is None and exif is None:
        return data
    chunks = [(kind, payload) for kind, payload in chunks_of(data) if kind != b"VP8X"]
    flags = ALPHA_FLAG if rgb.shape[2] == 4 else 0
    head = []
    if icc is not None:
        flags |= ICC_FLAG
        head.append(chunk(b"ICCP", icc))
    tail = []
    if exif is not None:
        flags |= EXIF_FLAG
        tail.append(chunk(b"EXIF", exif))
    height, width = rgb.shape[:2]
    return riff([vp8x(flags, width, height), *head, *(chunk(k, p) for k, p in chunks), *tail])


def animated_webp(frames: list[np.ndarray]) -> bytes:
    """An animated WebP of BGR frames, from OpenCV's animation encoder (lossless)."""
    animation = cv2.Animation()
    animation.frames = [np.ascontiguousarray(frame) for frame in frames]
    animation.durations = [100] * len(frames)
    ok, buf = cv2.imencodeanimation(".webp", animation, [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    return buf.tobytes()
