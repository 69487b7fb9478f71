"""data/hdr-photos, the held-out real HDR photographs: the committed files are what MANIFEST.md
says, and no training script or other collection can pull them in."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import import_script

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "data" / "hdr-photos"
# | file | scene | WxH | peak luminance | ...
ROW = re.compile(r"^\| (\w+\.exr) \| [^|]+ \| (\d+)x(\d+) \| ([0-9.e+-]+) \|", re.MULTILINE)


@pytest.mark.skipif(not (PHOTOS / "MANIFEST.md").exists(), reason="no held-out photos in this checkout")
def test_committed_photos_match_their_manifest():
    import torch

    from fhdr_cli.colour.transfer import luminance
    from fhdr_cli.io.hdr_files import read_hdr

    manifest = (PHOTOS / "MANIFEST.md").read_text()
    rows = {name: (int(w), int(h), float(peak)) for name, w, h, peak in ROW.findall(manifest)}
    assert sorted(rows) == sorted(p.name for p in PHOTOS.glob("*.exr")) and len(rows) == 6
    for name, (w, h, peak) in rows.items():
        img = read_hdr(PHOTOS / name)
        assert img.shape == (h, w, 3), name
        assert np.isfinite(img).all() and img.min() >= 0, name
        assert float(luminance(torch.from_numpy(img), channel_dim=-1).max()) == pytest.approx(peak, rel=5e-3), name
    for licence in ("LICENSE-openexr-images-ILM.txt", "LICENSE-openexr-3.5.3.md"):
        assert licence in manifest and "Redistribution and use" in (PHOTOS / licence).read_text()


def test_training_never_reads_the_held_out_photos():
    for script in ("scripts/gpu_train.sh", "scripts/train_cpu.sh"):
        text = (ROOT / script).read_text()
        assert not re.search(r"--data\s+\S*hdr-photos", text), script
    assert not any("hdr-photos" in folder or "blender" in folder for folder in import_script("train_head").DATA)
    # `fhdr evaluate` skips a scene whose name a checkpoint trained on: the names must stay unique.
    others = {p.stem for p in (ROOT / "data").glob("*/*") if p.parent.name != "hdr-photos"}
    assert not {p.stem for p in PHOTOS.glob("*.exr")} & others
