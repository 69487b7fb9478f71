from pathlib import Path

import numpy as np
import pytest

from fhdr_cli.errors import UsageError
from fhdr_cli.simulation.scenes import Scene
import torch

from fhdr_cli.training.train import (LossWeights, SimulatedBatches, TrainSettings, hdr_loss, learning_rate,
                                     region_light_error, resolve_precision, scene_probabilities, train)


def test_cosine_learning_rate_falls_from_peak_to_a_twentieth():
    s = TrainSettings(data=Path("."), lr=1e-3)
    rates = [learning_rate(s, f) for f in np.linspace(0, 1, 11)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(5e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert learning_rate(s, 2.0) == pytest.approx(5e-5)  # a run that overshoots its budget stays at the floor
    assert learning_rate(TrainSettings(data=Path("."), lr=1e-3, lr_decay="none"), 0.7) == 1e-3


def test_unknown_learning_rate_decay_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="lr-decay"):
        train(TrainSettings(data=tmp_path, lr_decay="linear"))


def test_overshoot_weight_charges_over_bright_errors_more_than_dim_ones():
    target = torch.full((1, 3, 8, 8), 0.5)
    target[..., 0, 0] = 1.0  # the peak that normalises both
    no_perceptual = lambda a, b: torch.zeros(())  # noqa: E731
    bright, dim = target * 1.2, target * 0.8
    bright[..., 0, 0] = dim[..., 0, 0] = 1.0
    ldr = torch.full_like(target, 0.5)
    symmetric = [float(hdr_loss([x], target, ldr, no_perceptual, LossWeights(0.0))) for x in (bright, dim)]
    weighted = [float(hdr_loss([x], target, ldr, no_perceptual, LossWeights(0.0, overshoot=1.0))) for x in (bright, dim)]
    assert weighted[1] == pytest.approx(symmetric[1])  # undershoot: unchanged
    assert weighted[0] == pytest.approx(2 * symmetric[0])  # overshoot: doubled


def test_negative_overshoot_weight_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="overshoot"):
        train(TrainSettings(data=tmp_path, overshoot_weight=-1.0))


def test_simulated_batches_have_the_requested_shape_and_differ():
    scene = Scene("flat", np.random.default_rng(0).random((80, 120, 3), dtype=np.float32) * 4)
    stream = iter(SimulatedBatches([scene], patch=32, batch=3, seed=0))
    (ldr1, hdr1), (ldr2, _) = next(stream), next(stream)
    assert ldr1.shape == hdr1.shape == (3, 3, 32, 32)
    assert 0 <= float(ldr1.min()) and float(ldr1.max()) <= 1
    assert not np.array_equal(ldr1.numpy(), ldr2.numpy())


def test_data_weights_give_each_folder_its_share_split_among_its_scenes():
    flat = lambda name: Scene(name, np.ones((8, 8, 3), np.float32))  # noqa: E731
    renders, panoramas = [flat(f"r{i}") for i in range(3)], [flat("p0")]
    assert scene_probabilities([renders, panoramas], None) is None
    np.testing.assert_allclose(scene_probabilities([renders, panoramas], (1.0, 1.0)), [1 / 6] * 3 + [1 / 2])
    np.testing.assert_allclose(scene_probabilities([renders, [], panoramas], (1.0, 5.0, 3.0)), [1 / 12] * 3 + [3 / 4])
    with pytest.raises(UsageError, match="2 weights for 3"):
        scene_probabilities([renders, [], panoramas], (1.0, 1.0))
    for bad in ((-1.0, 2.0), (0.0, 0.0)):
        with pytest.raises(UsageError, match="--data-weight"):
            scene_probabilities([renders, panoramas], bad)


def test_simulated_batches_draw_scenes_by_the_data_weights():
    red = Scene("red", np.tile(np.array([0.6, 0.05, 0.05], np.float32), (40, 40, 1)))
    blue = Scene("blue", np.tile(np.array([0.05, 0.05, 0.6], np.float32), (40, 40, 1)))
    red_crops = lambda probabilities: sum(  # noqa: E731
        int((hdr[:, 0] > hdr[:, 2]).all(dim=(1, 2)).sum())
        for hdr in (batch[1] for batch, _ in zip(SimulatedBatches([red, blue], 16, 8, 0, probabilities=probabilities),
                                                 range(5))))
    assert red_crops(np.array([0.0, 1.0])) == 0 and red_crops(np.array([1.0, 0.0])) == 40
    assert 5 < red_crops(None) < 35  # uniform over scenes without weights


def test_light_term_measures_the_light_of_clipped_pixels_in_stops():
    target = torch.full((2, 3, 16, 16), 0.3)
    target[:, :, 4:8, 4:8] = 50.0  # a light, clipped in the photo
    ldr = torch.full_like(target, 0.6)
    ldr[:, :, 4:8, 4:8] = 1.0
    no_perceptual = lambda a, b: torch.zeros(())  # noqa: E731
    only_light = LossWeights(perceptual=0.0, light=1.0)
    base = float(hdr_loss([target], target, ldr, no_perceptual, LossWeights(0.0)))
    dim = target.clone()
    dim[:, :, 4:8, 4:8] = 50.0 / 8  # three stops too little light
    extra = float(hdr_loss([dim], target, ldr, no_perceptual, only_light)) - float(hdr_loss([dim], target, ldr, no_perceptual, LossWeights(0.0)))
    assert base == pytest.approx(0.0, abs=1e-7)
    assert extra == pytest.approx(np.log(8), rel=1e-3)
    # where nothing is clipped the light term has nothing to say
    unclipped = torch.full_like(ldr, 0.6)
    assert float(hdr_loss([dim], target, unclipped, no_perceptual, only_light)) == pytest.approx(
        float(hdr_loss([dim], target, unclipped, no_perceptual, LossWeights(0.0))))


def test_region_light_asks_each_clipped_region_for_its_own_light():
    target = torch.full((2, 3, 16, 16), 0.3)
    target[0, :, 1:3, 1:3] = 40.0  # a lamp: 4 px
    target[0, :, 8:16, 8:16] = 2.0  # a sky: 64 px
    regions = torch.zeros((2, 16, 16), dtype=torch.int16)
    regions[0, 1:3, 1:3], regions[0, 8:16, 8:16] = 1, 2
    regions[1, 0, 0:3] = 1  # 3 px: below the floor
    pred = target.clone()
    pred[0, :, 1:3, 1:3] = 40.0 / 8  # the lamp 3 stops too dim
    pred[0, :, 8:16, 8:16] = 2.0 * 2  # the sky 1 stop too bright
    # per region, weighted by sqrt(area): (2 x 3 + 8 x 1) / (2 + 8); summed over the view the errors
    # would partly cancel
    assert float(region_light_error(pred, target, regions)) == pytest.approx(1.4, rel=1e-4)
    assert float(region_light_error(target, target, regions)) == pytest.approx(0.0, abs=1e-5)
    assert float(region_light_error(pred, target, torch.zeros_like(regions))) == 0.0


def test_region_light_weight_adds_each_clipped_region_of_the_photo_to_the_loss():
    target = torch.full((1, 3, 16, 16), 0.3)
    target[..., 1:3, 1:3] = 40.0  # a lamp
    target[..., 8:16, 8:16] = 2.0  # a sky
    ldr = torch.full_like(target, 0.5)
    ldr[..., 1:3, 1:3] = ldr[..., 8:16, 8:16] = 1.0  # both clipped, apart: two regions of the photo
    pred = target.clone()
    pred[..., 1:3, 1:3] = 40.0 / 8
    pred[..., 8:16, 8:16] = 2.0 * 2
    no_perceptual = lambda a, b: torch.zeros(())  # noqa: E731
    plain = float(hdr_loss([pred, pred], target, ldr, no_perceptual, LossWeights(0.0)))
    regional = float(hdr_loss([pred, pred], target, ldr, no_perceptual, LossWeights(0.0, region_light=0.5)))
    # mean over the iterations of 0.5 x (2 x 3 + 8 x 1) / (2 + 8) stops
    assert regional - plain == pytest.approx(0.5 * 1.4, rel=1e-3)
    # the same photo with the lamp and sky touching is one region whose errors partly cancel
    merged = ldr.clone()
    merged[..., 1:8, 1:16] = 1.0
    assert float(hdr_loss([pred], target, merged, no_perceptual, LossWeights(0.0, region_light=0.5))) - float(
        hdr_loss([pred], target, merged, no_perceptual, LossWeights(0.0))) < 0.5 * 1.0


def test_log_term_sees_shadow_errors_that_the_peak_normalised_loss_misses():
    target = torch.full((1, 3, 16, 16), 0.002)  # deep shadows
    target[..., 0, 0] = 1e4  # and a sun that normalises the paper's mu-law images
    lifted = target.clone()
    lifted[..., 1:, :] *= 4  # shadows two stops too bright
    ldr = torch.full_like(target, 0.05)
    no_perceptual = lambda a, b: torch.zeros(())  # noqa: E731
    paper = float(hdr_loss([lifted], target, ldr, no_perceptual, LossWeights(0.0)))
    with_log = float(hdr_loss([lifted], target, ldr, no_perceptual, LossWeights(0.0, log=1.0)))
    assert paper < 1e-3  # crushed by the sun's normalisation
    assert with_log - paper > 0.05


def test_negative_loss_weights_and_light_probability_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="light-weight"):
        train(TrainSettings(data=tmp_path, light_weight=-1.0))
    with pytest.raises(UsageError, match="region-light-weight"):
        train(TrainSettings(data=tmp_path, region_light_weight=-1.0))


def test_data_weights_must_match_the_data_folders(tmp_path):
    from fhdr_cli.io.hdr_files import write_hdr

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_hdr(tmp_path / name / f"{name}.exr", np.full((16, 32, 3), 0.5, np.float32))
    with pytest.raises(UsageError, match="1 weights for 2"):
        train(TrainSettings(data=(tmp_path / "a", tmp_path / "b"), data_weights=(1.0,), val_scenes=()))
    with pytest.raises(UsageError, match="light-probability"):
        train(TrainSettings(data=tmp_path, light_probability=1.5))
    with pytest.raises(UsageError, match="glare-probability"):
        train(TrainSettings(data=tmp_path, glare_probability=-0.1))


def test_precision_auto_means_bf16_only_where_the_device_runs_it_natively(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("fp32", cuda) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"  # emulated bf16 would be slower than fp32
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    with pytest.raises(UsageError, match="--precision"):
        resolve_precision("fp16", cpu)
