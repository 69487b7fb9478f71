"""Exact tiled inference: any image size in bounded memory, same result as the whole image.

Every tile is cut with a margin of the network's receptive radius on each side
(clipped at the image borders), run through the network, and cropped back to
its core. No output pixel of a core sees past its window's margin, so the
window's own edges never show; where a window ends at the image border, the
network pads exactly as it does on the whole image. The stitched result is the
whole-image result, and a photo that fits in memory is simply one tile.

A 360-degree panorama (``wrap``) has no left or right border: its windows run past them and
read the other side, so the result is the same as for an endless row of copies and its left and
right edges meet without a seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, TypeVar

import numpy as np

T = TypeVar("T")  # a numpy array or a torch tensor


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int  # the core this tile produces, in image coordinates
    wy0: int
    wy1: int
    wx0: int
    wx1: int  # the window the network reads: the core plus its margin, within the image (columns
    # may run past the sides of a wrapped panorama, to be read modulo its width)

    @property
    def window_pixels(self) -> int:
        return (self.wy1 - self.wy0) * (self.wx1 - self.wx0)


def plan_tiles(height: int, width: int, tile: int, radius: int, wrap: bool = False) -> list[Tile]:
    """Cover the image with near-equal cores of at most `tile` pixels a side, each with its window.
    With `wrap` the windows' columns are not stopped at the left and right borders."""
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    ys = [round(i * height / rows) for i in range(rows + 1)]
    xs = [round(j * width / cols) for j in range(cols + 1)]
    left, right = (-radius, width + radius) if wrap else (0, width)  # how far windows may reach
    return [
        Tile(ys[i], ys[i + 1], xs[j], xs[j + 1],
             max(ys[i] - radius, 0), min(ys[i + 1] + radius, height),
             max(xs[j] - radius, left), min(xs[j + 1] + radius, right))
        for i in range(rows) for j in range(cols)
    ]


def computed_pixels(height: int, width: int, tile: int, radius: int, wrap: bool = False) -> int:
    """Pixels the network evaluates, margins included (for the tiling-overhead figure)."""
    return sum(t.window_pixels for t in plan_tiles(height, width, tile, radius, wrap))


def auto_tile_size(height: int, width: int, radius: int, budget_bytes: int, bytes_per_pixel: int) -> int:
    """The largest core whose window fits the memory budget; the whole image if it fits."""
    if height * width * bytes_per_pixel <= budget_bytes:
        return max(height, width)
    side = int(math.sqrt(budget_bytes / bytes_per_pixel)) - 2 * radius
    return min(max(height, width), max(side, 32))


def iter_windows(image: T, tiles: list[Tile]) -> Iterator[tuple[Tile, T]]:
    """Each tile with its window of `image` (HxW[xC], a numpy array or a torch tensor on any device): a
    view, nothing is copied, unless the window wraps around a panorama's sides (then its columns are
    gathered modulo the width)."""
    width = image.shape[1]
    for t in tiles:
        rows = image[t.wy0 : t.wy1]
        if 0 <= t.wx0 and t.wx1 <= width:
            yield t, rows[:, t.wx0 : t.wx1]
        else:
            yield t, rows[:, np.arange(t.wx0, t.wx1) % width]


def batch_tiles(tiles: list[Tile], max_pixels: int) -> list[list[Tile]]:
    """Tiles grouped into batches of equal window shape, at most `max_pixels` window pixels each
    (at least one tile). Interior windows share a shape; those at the image borders come out in
    smaller batches of their own."""
    by_shape: dict[tuple[int, int], list[Tile]] = {}
    for t in tiles:
        by_shape.setdefault((t.wy1 - t.wy0, t.wx1 - t.wx0), []).append(t)
    batches = []
    for (h, w), group in by_shape.items():
        size = max(max_pixels // (h * w), 1)
        batches += [group[i : i + size] for i in range(0, len(group), size)]
    return batches


def crop_core(window_output: T, t: Tile) -> T:
    """The part of a window's output that the tile contributes; crops the last two axes (..., H, W),
    so the model's (N, C, H, W) output is cropped before it leaves the device."""
    top, left = t.y0 - t.wy0, t.x0 - t.wx0
    return window_output[..., top : top + t.y1 - t.y0, left : left + t.x1 - t.x0]
