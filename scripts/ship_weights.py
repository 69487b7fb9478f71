"""Copy a training checkpoint into the package as the shipped weights (no optimizer state) + SHA-256.

    python scripts/ship_weights.py runs/cpu/phase2.best.pt
"""

import sys
from pathlib import Path

from fhdr_cli.network.checkpoint import file_sha256, load_checkpoint, save_checkpoint, shipped_weights_path

src = Path(sys.argv[1])
ckpt = load_checkpoint(src)
dst = Path(__file__).resolve().parent.parent / "weights" / shipped_weights_path().name
save_checkpoint(dst, ckpt.model, {**ckpt.training, "source_checkpoint": src.name})
sha = file_sha256(dst)
dst.with_name(dst.name + ".sha256").write_text(f"{sha}  {dst.name}\n")
print(f"shipped {src} -> {dst} ({dst.stat().st_size / 1e6:.1f} MB, sha256 {sha[:16]}…)")
