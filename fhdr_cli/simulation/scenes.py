"""HDR scene collections and the photo-like views we cut from them.

Panoramas are not photos: we render perspective views with a random yaw, pitch
and field of view (pitch kept away from the stretched poles). Cube strips (six
90-degree faces side by side) are already perspective: we crop inside one face.
Any other HDR image is treated as a flat photo and cropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..io.hdr_files import HDR_EXTENSIONS, read_hdr

# Held out from training, chosen to span indoor/outdoor, sun/no sun and both sources.
VALIDATION_SCENES = (
    "open3d_crossroads_cubestrip",
    "open3d_hall_cubestrip",
    "pmndrs_bridge",
    "pmndrs_lobby",
    "pmndrs_sunset",
)


@dataclass
class Scene:
    name: str
    image: np.ndarray  # HxWx3 float32 linear RGB

    @property
    def kind(self) -> str:
        h, w = self.image.shape[:2]
        if w == 6 * h:
            return "cubestrip"
        if w == 2 * h:
            return "panorama"
        return "flat"


def scene_files(folder: Path) -> list[Path]:
    """The .exr/.hdr files directly in `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in HDR_EXTENSIONS and p.is_file())


def load_scenes(folder: Path, names: set[str] | None = None, exclude: set[str] = frozenset()) -> list[Scene]:
    """Scenes in `folder`; `names` keeps only those stems, `exclude` drops those."""
    return [
        Scene(p.stem, read_hdr(p))
        for p in scene_files(folder)
        if (names is None or p.stem in names) and p.stem not in exclude
    ]


def random_view(scene: Scene, rng: np.random.Generator, size: int) -> np.ndarray:
    """A size x size photo-like view of the scene (HxWx3 float32 linear)."""
    if scene.kind == "panorama":
        view = perspective_view(
            scene.image,
            yaw=rng.uniform(-np.pi, np.pi),
            pitch=np.radians(rng.uniform(-30, 30)),
            fov=np.radians(rng.uniform(40, 90)),
            width=size,
            height=size,
        )
    else:
        image = scene.image
        if scene.kind == "cubestrip":
            face = image.shape[0]
            index = rng.integers(6)
            image = image[:, index * face : (index + 1) * face]
        h, w = image.shape[:2]
        side = int(rng.uniform(0.35, 1.0) * min(h, w))
        side = max(side, min(size, h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = image[y : y + side, x : x + side]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        view = cv2.resize(crop, (size, size), interpolation=interp)
    if rng.random() < 0.5:
        view = view[:, ::-1]
    return np.ascontiguousarray(view, dtype=np.float32)


def perspective_view(pano: np.ndarray, yaw: float, pitch: float, fov: float, width: int, height: int) -> np.ndarray:
    """Pinhole view of an equirectangular panorama; `fov` is horizontal, in radians."""
    h, w = pano.shape[:2]
    t = np.tan(fov / 2)
    u = ((np.arange(width) + 0.5) / width * 2 - 1) * t
    v = ((np.arange(height) + 0.5) / height * 2 - 1) * t * height / width
    x, y = np.meshgrid(u, -v)
    z = np.ones_like(x)
    # pitch about the x axis, then yaw about the y axis
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    y, z = y * cp + z * sp, -y * sp + z * cp
    x, z = x * cy + z * sy, -x * sy + z * cy
    lon = np.arctan2(x, z)
    lat = np.arctan2(y, np.hypot(x, z))
    map_x = ((lon / (2 * np.pi) + 0.5) * w - 0.5).astype(np.float32)
    map_y = ((0.5 - lat / np.pi) * h - 0.5).astype(np.float32)
    return cv2.remap(pano, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
