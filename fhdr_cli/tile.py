"""Exact tiled inference: any image size in bounded memory, same result as the whole image.

The image is mirrored at its borders by the network's receptive radius. Every
tile is cut from that mirrored image with a margin of the radius on each side,
run through the network, and cropped back to its core. Because no output pixel of
the core sees past the margin, the tiles' own border effects are cropped away
and the stitched result equals running the mirrored image whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, TypeVar

import numpy as np

T = TypeVar("T")  # a numpy array or a torch tensor


def reflect_indices(n: int, pad: int) -> np.ndarray:
    """Indices that mirror a length-n axis by `pad` on both sides (any pad, even n == 1)."""
    i = np.arange(-pad, n + pad)
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.remainder(i, period)
    return np.where(i >= n, period - i, i)


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int  # the core this tile produces, in output coordinates


def plan_tiles(height: int, width: int, tile: int) -> list[Tile]:
    """Cover the image with near-equal cores of at most `tile` pixels a side."""
    rows, cols = math.ceil(height / tile), math.ceil(width / tile)
    ys = [round(i * height / rows) for i in range(rows + 1)]
    xs = [round(j * width / cols) for j in range(cols + 1)]
    return [Tile(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(rows) for j in range(cols)]


def computed_pixels(height: int, width: int, tile: int, radius: int) -> int:
    """Pixels the network evaluates, margins included (for the tiling-overhead figure)."""
    return sum((t.y1 - t.y0 + 2 * radius) * (t.x1 - t.x0 + 2 * radius) for t in plan_tiles(height, width, tile))


def auto_tile_size(height: int, width: int, radius: int, budget_bytes: int, bytes_per_pixel: int) -> int:
    """The largest core whose padded tile fits the memory budget; the whole image if it fits."""
    if (height + 2 * radius) * (width + 2 * radius) * bytes_per_pixel <= budget_bytes:
        return max(height, width)
    side = int(math.sqrt(budget_bytes / bytes_per_pixel)) - 2 * radius
    side = max(side, 32)
    return min(max(height, width), side)


def iter_windows(image: np.ndarray, radius: int, tile: int) -> Iterator[tuple[Tile, np.ndarray]]:
    """Each tile's input: its core plus `radius` pixels of context, mirrored at the image borders.

    `image` is HxW[xC]; windows are gathered straight from it, so no padded copy
    of the whole image is ever made.
    """
    height, width = image.shape[:2]
    rows, cols = reflect_indices(height, radius), reflect_indices(width, radius)
    for t in plan_tiles(height, width, tile):
        yield t, image[rows[t.y0 : t.y1 + 2 * radius]][:, cols[t.x0 : t.x1 + 2 * radius]]


def crop_core(window_output: T, t: Tile, radius: int) -> T:
    """The part of a window's output that the tile contributes; crops the last two axes (..., H, W),
    so the model's (N, C, H, W) output is cropped before it leaves the device."""
    return window_output[..., radius : radius + t.y1 - t.y0, radius : radius + t.x1 - t.x0]
