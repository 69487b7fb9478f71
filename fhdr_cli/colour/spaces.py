"""The linear RGB spaces fhdr writes, and the matrices between RGB primaries and CIE XYZ.

The network works in the photo's own primaries; the pipeline takes its output to Rec.709 (games,
most tools) or ACEScg (the working space of many VFX pipelines) with one 3x3 matrix per tile.
ACEScg's AP1 primaries contain Rec.709 and Display P3, so nothing a photo holds is clipped there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bradford cone response (Lam 1985), the chromatic adaptation ICC profiles and ACES use.
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def white_xyz(x: float, y: float) -> np.ndarray:
    """XYZ (Y = 1) of the chromaticity (x, y)."""
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def bradford(source_white: np.ndarray, target_white: np.ndarray) -> np.ndarray:
    """3x3 taking XYZ seen under `source_white` to the corresponding XYZ under `target_white`."""
    scale = np.diag((_BRADFORD @ target_white) / (_BRADFORD @ source_white))
    return np.linalg.inv(_BRADFORD) @ scale @ _BRADFORD


@dataclass(frozen=True)
class ColourSpace:
    name: str
    chromaticities: tuple[float, ...]  # red x, y, green x, y, blue x, y, white x, y (EXR's attribute)

    @property
    def white(self) -> np.ndarray:
        return white_xyz(*self.chromaticities[6:])

    def to_xyz(self) -> np.ndarray:
        """3x3 linear RGB -> XYZ, from the primaries and white (so RGB (1, 1, 1) is the white exactly;
        published tables round and miss it by up to 2e-4)."""
        c = self.chromaticities
        primaries = np.column_stack([white_xyz(c[0], c[1]), white_xyz(c[2], c[3]), white_xyz(c[4], c[5])])
        return primaries * np.linalg.solve(primaries, self.white)  # scale each primary: R + G + B = white

    def from_xyz(self, white: np.ndarray) -> np.ndarray:
        """3x3 XYZ relative to `white` -> linear RGB in this space, adapted to this space's white."""
        return np.linalg.inv(self.to_xyz()) @ bradford(white, self.white)


REC709 = ColourSpace("rec709", (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290))
ACESCG = ColourSpace("acescg", (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767))
OUTPUT_SPACES = {space.name: space for space in (REC709, ACESCG)}


def to_rec709(rgb_to_xyz: np.ndarray) -> np.ndarray:
    """3x3 linear RGB -> linear Rec.709 for a space given by its RGB -> XYZ matrix, whose white is
    what RGB (1, 1, 1) maps to (Bradford-adapted to D65). Raises ValueError for primaries that
    (nearly) coincide: real spaces convert into Rec.709 with entries of a few units (ProPhoto about 2)."""
    with np.errstate(all="ignore"):
        matrix = REC709.from_xyz(rgb_to_xyz.sum(axis=1)) @ rgb_to_xyz
    if not (np.isfinite(matrix).all() and np.abs(matrix).max() <= 100):
        raise ValueError("implausible primaries")
    return matrix


def rec709_to(space: ColourSpace) -> np.ndarray:
    """3x3 linear Rec.709 -> linear RGB in `space` (the identity for Rec.709 itself)."""
    return space.from_xyz(REC709.white) @ REC709.to_xyz()
