"""scripts/render_scenes.py without Mitsuba: the held-out panoramas stay out, the cube-strip
conversion and the firefly cut behave, and the committed renders are what the manifest says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import import_script

ROOT = Path(__file__).resolve().parent.parent
RENDERED = ROOT / "data" / "rendered"


@pytest.fixture(scope="module")
def rs():
    return import_script("render_scenes")


def test_held_out_panoramas_are_never_environments(rs):
    assert not set(rs.ENVIRONMENTS) & rs.HELD_OUT
    assert not any("blender" in name or "studiolight" in name for name in rs.ENVIRONMENTS)


def test_cube_strip_of_one_colour_gives_that_colour_everywhere(rs):
    strip = np.ones((16, 96, 3), np.float32) * np.array([1.0, 2.0, 3.0], np.float32)
    equirect = rs.cube_to_equirect(strip, height=32)
    assert equirect.shape == (32, 64, 3)
    np.testing.assert_allclose(equirect, np.broadcast_to(strip[0, 0], equirect.shape), rtol=1e-6)


def test_cube_strip_faces_land_where_they_point(rs):
    strip = np.zeros((16, 96, 3), np.float32)
    for face in range(6):
        strip[:, face * 16:(face + 1) * 16] = face + 1  # +X -X +Y -Y +Z -Z
    e = rs.cube_to_equirect(strip, height=32)[..., 0]
    assert e[0, 10] == 3 and e[-1, 10] == 4  # +Y up, -Y down
    assert e[16, 0] == 1 and e[16, 32] == 2  # phi 0: +X, phi pi: -X
    assert e[16, 16] == 5 and e[16, 48] == 6  # phi pi/2: +Z


def test_despeckle_cuts_a_one_pass_firefly_and_keeps_a_light(rs):
    rng = np.random.default_rng(0)
    stack = (0.1 + 0.01 * rng.random((16, 9, 9, 1))) * np.ones((1, 1, 1, 3), np.float32)
    stack = stack.astype(np.float32)
    stack[:, 2, 2] = 5000.0  # a light every pass sees
    stack[3, 6, 6] = 400.0  # a firefly in one pass
    img, changed, energy = rs.despeckle(stack)
    assert img[2, 2, 0] == pytest.approx(5000.0)
    assert img[6, 6, 0] < 0.2
    assert 0 < changed < 0.05 and 0 < energy < 0.5


@pytest.mark.skipif(not (RENDERED / "MANIFEST.md").exists(), reason="no renders in this checkout")
def test_committed_renders_match_their_descriptions():
    from fhdr_cli.io.hdr_files import read_hdr

    manifest = (RENDERED / "MANIFEST.md").read_text()
    for exr in sorted(RENDERED.glob("render_*.exr"))[:3]:
        info = json.loads(exr.with_suffix(".json").read_text())
        img = read_hdr(exr)
        assert img.shape == (info["camera"]["height"], info["camera"]["width"], 3)
        assert float(img.max()) == pytest.approx(info["stats"]["peak"], rel=5e-3)
        assert exr.name in manifest and info["environment"] in manifest
        assert exr.stat().st_size < 1.6e6
