"""Exact tiled inference: any image size in bounded memory, same result as the whole image.

The image is reflect-padded once by the network's receptive radius. Every tile
is cut from that padded image with a margin of the radius on each side, run
through the network, and cropped back to its core. Because no output pixel of
the core sees past the margin, the tiles' own border effects are cropped away
and the stitched result equals running the padded image whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch


def reflect_indices(n: int, pad: int) -> torch.Tensor:
    """Indices that mirror a length-n axis by `pad` on both sides (any pad, even n == 1)."""
    i = torch.arange(-pad, n + pad)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Mirror padding of the last two axes; unlike F.pad it allows pad >= size."""
    h, w = x.shape[-2:]
    x = x.index_select(-2, reflect_indices(h, pad).to(x.device))
    return x.index_select(-1, reflect_indices(w, pad).to(x.device))


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
    side = int(math.sqrt(budget_bytes / bytes_per_pixel)) - 2 * radius
    side = max(side, 32)
    return min(max(height, width), side)


def iter_tiles(
    run: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, radius: int, tile: int
) -> Iterator[tuple[Tile, torch.Tensor]]:
    """Yield each tile's core output; `image` is (1, C, H, W), `run` maps (1, C, h, w) -> (1, C', h, w)."""
    padded = reflect_pad(image, radius)
    for t in plan_tiles(image.shape[-2], image.shape[-1], tile):
        window = padded[..., t.y0 : t.y1 + 2 * radius, t.x0 : t.x1 + 2 * radius]
        out = run(window)
        yield t, out[..., radius : radius + t.y1 - t.y0, radius : radius + t.x1 - t.x0]
