"""The log-gain calibration: a per-pixel scale of the network's log gain, stored in the checkpoint."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import random_model
from fhdr_cli.colour.transfer import srgb_to_linear
from fhdr_cli.errors import UsageError, WeightsError
from fhdr_cli.io.hdr_files import write_hdr
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.network.checkpoint import load_checkpoint, save_checkpoint
from fhdr_cli.network.fhdr import GainCalibration, receptive_radius

CALIBRATION = GainCalibration(well_exposed=0.4, near_clipped=1.2, knee_low=0.8, knee_high=0.95)
DETAILED = GainCalibration(well_exposed=0.9, near_clipped=1.1, detail_sigma=1.5)


def test_the_scale_is_well_exposed_below_the_knee_near_clipped_above_it_and_monotone_between():
    grey = torch.linspace(0, 1, 101).view(1, 1, 1, -1).expand(1, 3, 1, -1).clone()
    scale = CALIBRATION.scale(grey)[0, 0, 0]
    values = grey[0, 0, 0]
    assert torch.allclose(scale[values <= 0.8], torch.tensor(0.4))
    assert torch.allclose(scale[values >= 0.95], torch.tensor(1.2))
    assert (scale.diff() >= 0).all() and 0.4 < scale[88] < 1.2


def test_the_brightest_channel_decides_so_a_clipped_red_sky_counts_as_near_clipped():
    pixel = torch.tensor([1.0, 0.2, 0.1]).view(1, 3, 1, 1)
    assert CALIBRATION.scale(pixel).item() == pytest.approx(1.2)


def test_detail_drops_the_local_mean_of_well_exposed_log_gain_and_keeps_its_fine_structure_and_the_highlights():
    ldr = torch.full((1, 3, 40, 60), 0.5)
    ldr[..., 15:25, 40:50] = 1.0  # a clipped lamp
    checker = 0.2 * (torch.arange(40).view(-1, 1) + torch.arange(60)).remainder(2).mul(2).sub(1)
    log_gain = 0.7 + checker.expand(1, 3, 40, 60)  # a slow shift (0.7) plus pixel-scale detail
    calibration = GainCalibration(well_exposed=1.0, near_clipped=1.0, detail_sigma=2.0)
    out = calibration.apply(ldr, log_gain)
    far = out[..., 8:32, 8:30]  # well exposed, more than 4 sigma from the lamp and the borders
    assert far.mean().abs() < 0.01  # the shift is gone ...
    assert torch.allclose(far, checker[8:32, 8:30].expand_as(far), atol=0.01)  # ... the detail stays
    assert torch.equal(out[..., 15:25, 40:50], log_gain[..., 15:25, 40:50])  # the lamp keeps its whole gain
    assert calibration.radius == 8 and GainCalibration().radius == 0


def test_calibrated_output_is_the_log_gain_scaled_per_pixel():
    model = random_model()
    x = torch.rand(1, 3, 24, 28)
    with torch.no_grad():
        plain = model.infer(x, 2)
        model.gain_calibration = CALIBRATION
        calibrated = model.infer(x, 2)
    base = x.clamp(min=0.05)  # where the sRGB decoding is not tiny, the log gains compare well
    mask = (x > 0.05).all(1, keepdim=True).expand_as(x)
    gain, gain_calibrated = (torch.log(out / srgb_to_linear(base)) for out in (plain, calibrated))
    expected = gain * CALIBRATION.scale(x)
    assert torch.allclose(gain_calibrated[mask], expected[mask], atol=1e-4)
    assert not torch.allclose(plain, calibrated)


@pytest.mark.parametrize("calibration", [CALIBRATION, DETAILED])
def test_the_fused_engine_applies_the_same_calibration(calibration):
    from fhdr_cli.network.fused import FusedFHDR, onednn_available

    if not onednn_available():
        pytest.skip("this torch build has no oneDNN")
    model = random_model(1)
    model.gain_calibration = calibration
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        plain, fast = model.infer(x, 3), FusedFHDR(model).infer(x, 3)
    assert (fast - plain).abs().max() <= 1e-4 * max(1.0, plain.abs().max().item())


@pytest.mark.parametrize("calibration", [CALIBRATION, DETAILED])
def test_the_checkpoint_keeps_the_calibration_and_the_converter_tiles_exactly_with_it(tmp_path, calibration):
    model = random_model(2)
    model.gain_calibration = calibration
    path = tmp_path / "calibrated.pt"
    save_checkpoint(path, model, {"phases": []})
    assert load_checkpoint(path).model.gain_calibration == calibration
    image = np.random.default_rng(3).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    image[10:20, 10:30] = 255  # clipped pixels, where the calibration differs most
    whole = Converter.load(weights=path, device="cpu", iterations=2, tile=512)(image)
    tiler = Converter.load(weights=path, device="cpu", iterations=2, tile=32)
    assert tiler.radius == receptive_radius(2, model.cfg) + calibration.radius  # the overlap covers the detail's mean
    tiled = tiler(image)
    assert np.abs(tiled - whole).max() <= 1e-4 * max(1.0, np.abs(whole).max())


@pytest.mark.parametrize("engine", ["plain", "fused"])
def test_highlights_multiply_the_log_gain_near_clipping_and_leave_the_shared_checkpoint_alone(tmp_path, engine):
    from fhdr_cli.network.fused import onednn_available

    if engine == "fused" and not onednn_available():
        pytest.skip("this torch build has no oneDNN")
    model = random_model(4)
    model.gain_calibration = DETAILED
    path = tmp_path / "calibrated.pt"
    save_checkpoint(path, model, {"phases": []})
    image = np.random.default_rng(5).integers(20, 200, (40, 52, 3), dtype=np.uint8)
    image[8:20, 10:30] = 255  # a clipped lamp
    load = functools.partial(Converter.load, weights=path, device="cpu", iterations=2, engine=engine)
    plain = load()(image)
    brighter_converter = load(highlights=1.5)
    brighter = brighter_converter(image)
    decoded = srgb_to_linear(torch.from_numpy(image / 255.0)).numpy()
    lamp = np.s_[8:20, 10:30]  # near clipping: the whole log gain is scaled there, nothing else
    np.testing.assert_allclose(np.log(brighter[lamp] / decoded[lamp]), 1.5 * np.log(plain[lamp] / decoded[lamp]),
                               atol=2e-4)
    assert np.abs(np.log(plain[lamp] / decoded[lamp])).max() > 0.01  # the network does lift the lamp
    well_exposed = np.s_[28:, :]  # well exposed and more than the detail's reach from the lamp
    np.testing.assert_array_equal(brighter[well_exposed], plain[well_exposed])
    assert brighter_converter.calibration.near_clipped == pytest.approx(1.5 * DETAILED.near_clipped)
    assert load_checkpoint(path).model.gain_calibration == DETAILED
    np.testing.assert_array_equal(load()(image), plain)  # the cached checkpoint kept its calibration


@pytest.mark.parametrize("highlights", [-0.5, 3.5])
def test_highlights_out_of_range_are_a_usage_error(highlights):
    with pytest.raises(UsageError, match="--highlights"):
        Converter.load(device="cpu", highlights=highlights)


def test_an_uncalibrated_checkpoint_has_none_and_writes_none(tmp_path):
    path = tmp_path / "plain.pt"
    save_checkpoint(path, random_model(), {"phases": []})
    assert "gain_calibration" not in torch.load(path, weights_only=True)
    assert load_checkpoint(path).model.gain_calibration.is_identity


@pytest.mark.parametrize("entry", [{"well_exposed": -1.0}, {"knee_low": 0.99, "knee_high": 0.5}, {"detail_sigma": 100.0},
                                   {"colour": 2}])
def test_a_damaged_calibration_is_a_weights_error(tmp_path, entry):
    path = tmp_path / "bad.pt"
    save_checkpoint(path, random_model(), {"phases": []})
    data = torch.load(path, weights_only=True)
    data["gain_calibration"] = entry
    torch.save(data, path)
    with pytest.raises(WeightsError, match="unusable gain calibration"):
        load_checkpoint(path)


def test_calibrate_gain_script_fits_a_pair_records_its_scenes_and_reports_each_camera_curve(weights_file, tmp_path):
    rng = np.random.default_rng(3)
    for name in ("alpha", "beta"):
        scene = rng.uniform(0.05, 0.6, (64, 128, 3)).astype(np.float32)
        scene[20:28, 40:50] = 40.0  # a light to clip
        write_hdr(tmp_path / f"{name}.exr", scene)
    report, out = tmp_path / "report.json", tmp_path / "calibrated.pt"
    script = Path(__file__).resolve().parent.parent / "scripts" / "calibrate_gain.py"
    done = subprocess.run([sys.executable, str(script), str(weights_file), "--hdr", str(tmp_path), "--scenes", "alpha,beta",
                           "--views", "6", "--size", "48", "--iterations", "1", "--well-exposed", "0.5,1",
                           "--near-clipped", "1", "--detail-sigma", "0,2", "--report", str(report), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(report.read_text())
    assert [(r["detail_sigma"], r["well_exposed"], r["near_clipped"]) for r in rows] == [
        (0.0, 0.5, 1.0), (0.0, 1.0, 1.0), (2.0, 0.5, 1.0), (2.0, 1.0, 1.0)]
    for row in rows:
        assert len(row["by_curve"]) >= 2 and set(row["by_curve"]) <= {"srgb", "gamma", "dorf"}  # seed 0: fixed views
        for metric in ("psnr_mu", "ssim_mu", "hdr_flip"):  # the overall mean is a mix of the curves' means
            per_curve = [c[metric] for c in row["by_curve"].values()]
            assert min(per_curve) - 1e-9 <= row[metric] <= max(per_curve) + 1e-9
    calibrated = load_checkpoint(out)
    assert calibrated.model.gain_calibration.well_exposed in (0.5, 1.0)
    assert calibrated.training["phases"][-1]["train_scenes"] == ["alpha", "beta"]
