"""scripts/region_light_stats.py: each clipped region's light, measured as the evaluation's light term sees it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fhdr_cli.io.hdr_files import write_hdr
from fhdr_cli.simulation.simulate import SimulatedPair

from conftest import SCRIPTS, import_script


@pytest.fixture(scope="module")
def stats():
    return import_script("region_light_stats")


def test_each_clipped_region_reports_its_share_and_stops_over_the_clip_level(stats):
    target = np.full((40, 50, 3), 0.2, np.float32)
    target[5:10, 5:10] = 8.0  # a lamp: 3 stops over a clip level of 1
    target[20:30, 30:40] = 2.0  # a window: 1 stop over
    target[35, 2] = 5.0  # one pixel: below the 4-pixel floor of the light term
    pair = SimulatedPair(ldr=np.clip(target, 0, 1), target=target, clip_level=1.0)
    found = sorted(stats.regions(pair))
    assert found == [pytest.approx((25 / 2000, 3.0)), pytest.approx((100 / 2000, 1.0))]


def test_the_clip_level_scales_the_stops(stats):
    target = np.full((20, 20, 3), 0.1, np.float32)
    target[2:6, 2:6] = 8.0
    pair = SimulatedPair(ldr=np.clip(target / 2.0, 0, 1), target=target, clip_level=2.0)
    assert stats.regions(pair) == [pytest.approx((16 / 400, 2.0))]


def test_prints_a_row_per_region_size_of_a_folder(tmp_path):
    photo = np.full((64, 96, 3), 0.05, np.float32)
    photo[10:30, 10:30] = 50.0
    write_hdr(tmp_path / "lamp.exr", photo)
    proc = subprocess.run([sys.executable, str(SCRIPTS / "region_light_stats.py"), str(tmp_path),
                           "--views", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith(f"| {tmp_path} |")]
    assert rows, proc.stdout
    assert any(" 0.01-1 | " in row for row in rows)
