"""Render the bundled example photo: a perspective view of a CC0 sunset panorama with a clipped sky.

    python scripts/make_example.py ../shared/hdr-train/pmndrs_sunset.exr examples/venice_sunset.jpg

The scene is held out from training, so the README demo shows recovery on an unseen image.
"""

import sys

import cv2
import numpy as np
import torch

from fhdr_cli.colour.transfer import linear_to_srgb
from fhdr_cli.io.hdr_files import read_hdr
from fhdr_cli.simulation.scenes import perspective_view

src, dst = sys.argv[1], sys.argv[2]
view = perspective_view(read_hdr(src), yaw=np.radians(20), pitch=np.radians(4), fov=np.radians(95), width=480, height=320)
exposed = view / np.quantile(view.max(axis=-1), 0.93)  # 7 % of pixels clip: the sky around the sun
ldr = (linear_to_srgb(torch.from_numpy(exposed)).numpy() * 255).round().astype(np.uint8)
cv2.imwrite(dst, ldr[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
print(f"wrote {dst}: {ldr.shape[1]}x{ldr.shape[0]}, {100 * (ldr.max(axis=-1) >= 254).mean():.1f} % clipped")
