import importlib
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch

from fhdr_cli.network.fhdr import FHDR
from fhdr_cli.network.checkpoint import save_checkpoint


SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def import_script(name: str) -> ModuleType:
    """A script of scripts/ as a module (its main() guarded, so importing runs nothing)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tests measure results, not speed; 1 thread stays fast on a busy machine


def random_model(seed: int = 0) -> FHDR:
    """An FHDR with non-trivial random weights (the real head starts at zero, which hides bugs)."""
    torch.manual_seed(seed)
    model = FHDR().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.05)
    return model


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """A checkpoint with random weights, so CLI tests never depend on the shipped file's quality."""
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    save_checkpoint(path, random_model(), {"phases": [], "steps": 0, "note": "random weights for tests"})
    return path


@pytest.fixture
def photo():
    """A small RGB uint8 photo with a clipped bright region."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:37, 0:53]
    img = np.stack([xx * 4, yy * 6, (xx + yy) * 2], -1).astype(np.float32) + rng.normal(0, 3, (37, 53, 3))
    img[5:15, 30:45] = 255
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(ext: str, pixels: np.ndarray, *params: int) -> bytes:
    """Image bytes as cv2 writes them (BGR order)."""
    ok, buf = cv2.imencode(ext, pixels, list(params))
    assert ok
    return buf.tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_icc_png(png: bytes, profile: bytes) -> bytes:
    """The PNG with the ICC profile in an iCCP chunk right after IHDR."""
    return png[:33] + png_chunk(b"iCCP", b"test\0\0" + zlib.compress(profile)) + png[33:]


def handmade_png(width: int, height: int, depth: int, colour_type: int, rows: list[bytes], extra=()) -> bytes:
    """A PNG written by hand, for layouts cv2.imencode cannot produce (palette, grey+alpha)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + b"".join(png_chunk(kind, data) for kind, data in extra)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )
