import math

import numpy as np
import pytest
import torch

from fhdr_cli.evaluation.metrics import (SHADOW_FLOOR, align_exposure, clipped_mask, evaluate_pair, hdr_flip, psnr_mu, ssim,
                              ssim_mu)


def _scene(seed: int = 0, size: int = 32) -> np.ndarray:
    """Smooth linear HDR content with a bright spot well above 1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    hdr = np.stack([0.2 + 0.5 * xx, 0.1 + 0.6 * yy, 0.3 * (xx + yy)], -1) + rng.uniform(0, 0.05, (size, size, 3))
    hdr[4:10, 20:28] = 20.0
    return hdr.astype(np.float32)


def _noisy(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.maximum(img * (1 + rng.normal(0, sigma, img.shape)), 0).astype(np.float32)


def _ldr_of(hdr: np.ndarray) -> np.ndarray:
    return np.clip(hdr, 0, 1) ** (1 / 2.2)


def test_psnr_mu_is_infinite_for_identical_and_falls_with_noise():
    gt = _scene()
    assert psnr_mu(gt, gt) == math.inf
    scores = [psnr_mu(_noisy(gt, s), gt) for s in (0.01, 0.05, 0.2)]
    assert 30 < scores[0]
    assert scores[0] > scores[1] > scores[2]


def test_psnr_mu_mask_restricts_pixels_and_empty_mask_is_nan():
    gt = _scene()
    pred = gt.copy()
    pred[:2] *= 3.0  # error only in the top two rows
    top = np.zeros(gt.shape[:2], bool)
    top[:2] = True
    assert psnr_mu(pred, gt, ~top) == math.inf
    assert psnr_mu(pred, gt, top) < psnr_mu(pred, gt)
    assert math.isnan(psnr_mu(pred, gt, np.zeros(gt.shape[:2], bool)))


def test_psnr_mu_is_invariant_to_common_scale_but_not_to_prediction_scale():
    gt, pred = _scene(), _noisy(_scene(), 0.05)
    assert psnr_mu(pred * 7, gt * 7) == pytest.approx(psnr_mu(pred, gt), rel=1e-6)
    assert psnr_mu(pred * 2, gt) < psnr_mu(pred, gt)


@pytest.mark.parametrize("scale", [4.0, 0.37, 123.0])
def test_align_exposure_undoes_a_global_scale(scale):
    gt = _scene()
    aligned = align_exposure(gt / scale, gt, _ldr_of(gt))
    assert aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, gt, rtol=1e-6)


def test_align_exposure_anchors_on_well_exposed_pixels_only():
    gt = _scene()
    pred = gt / 2
    pred[4:10, 20:28] *= 50  # a wild highlight guess must not move the anchor
    aligned = align_exposure(pred, gt, _ldr_of(gt))
    np.testing.assert_allclose(aligned[12:], gt[12:], rtol=1e-6)


def test_align_exposure_falls_back_to_all_pixels_when_ldr_is_clipped():
    gt = _scene()
    aligned = align_exposure(gt * 3, gt, np.ones_like(gt))  # nothing well exposed
    np.testing.assert_allclose(aligned, gt, rtol=1e-6)


def test_ssim_mu_is_one_for_identical_and_falls_with_noise():
    gt = _scene()
    assert ssim_mu(gt, gt) == pytest.approx(1.0, abs=1e-9)
    slightly, very = ssim_mu(_noisy(gt, 0.05), gt), ssim_mu(_noisy(gt, 0.5), gt)
    assert 1.0 > slightly > very


def test_torch_ssim_is_per_image_and_differentiable():
    torch.manual_seed(0)
    b = torch.rand(2, 3, 24, 24)
    a = (b + 0.1 * torch.randn_like(b)).clamp(0, 1).requires_grad_(True)
    value = ssim(a, b)
    assert value.shape == (2,)
    assert torch.all(value < 1)
    assert torch.allclose(ssim(b, b), torch.ones(2), atol=1e-5)
    (1 - value.mean()).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_clipped_mask_marks_exactly_the_saturated_pixels():
    ldr = np.full((8, 9, 3), 0.5, np.float32)
    ldr[1, 2, 0] = 1.0
    ldr[3, 4] = 0.995
    ldr[5, 6, 2] = 0.98  # bright but not saturated
    expected = np.zeros((8, 9), bool)
    expected[1, 2] = expected[3, 4] = True
    np.testing.assert_array_equal(clipped_mask(ldr), expected)


def test_hdr_flip_is_zero_for_identical_and_positive_for_different():
    gt = _scene()
    assert hdr_flip(gt, gt) == pytest.approx(0.0, abs=1e-6)
    assert hdr_flip(_noisy(gt, 0.3), gt) > 0.01


def test_hdr_flip_accepts_negative_and_non_contiguous_input():
    gt = _scene()
    pred = np.asfortranarray(gt.astype(np.float64) - 0.01)
    assert math.isfinite(hdr_flip(pred, gt))


def test_evaluate_pair_ignores_exposure_and_scores_highlight_errors():
    gt = _scene()
    ldr = _ldr_of(gt)
    perfect = evaluate_pair(gt * 0.25, gt, ldr)
    assert set(perfect) >= {"psnr_mu", "ssim_mu", "psnr_mu_clipped", "hdr_flip", "light_error", "light_bias"}
    assert perfect["light_error"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["psnr_mu"] == math.inf and perfect["psnr_mu_clipped"] == math.inf
    assert perfect["ssim_mu"] == pytest.approx(1.0, abs=1e-6)
    assert perfect["hdr_flip"] == pytest.approx(0.0, abs=1e-6)

    clipped = evaluate_pair(np.minimum(gt, 1.0), gt, ldr)
    assert clipped["psnr_mu_clipped"] < clipped["psnr_mu"] < 40
    assert clipped["hdr_flip"] > 0
    assert clipped["light_bias"] < 0 and clipped["light_error"] == -clipped["light_bias"]  # too little light


def test_light_error_is_the_missing_light_of_clipped_pixels_in_stops():
    gt = np.full((32, 32, 3), 0.2, np.float32)
    gt[10:14, 10:14] = 400.0  # a lamp, clipped in the photo
    ldr = np.full_like(gt, 0.5)
    ldr[10:14, 10:14] = 1.0
    dim = gt.copy()
    dim[10:14, 10:14] = 25.0  # four stops too dim
    scores = evaluate_pair(dim, gt, ldr, clip_level=1.0)
    assert scores["light_bias"] == pytest.approx(-4.0, abs=1e-6)
    assert scores["light_error"] == scores["light_error_sources"] == pytest.approx(4.0, abs=1e-6)
    assert math.isnan(evaluate_pair(dim, gt, ldr, clip_level=10.0)["light_error_sources"])  # peak only 40x clip
    assert math.isnan(evaluate_pair(dim, gt, np.full_like(gt, 0.5))["light_error"])  # nothing clipped


def test_shadow_bias_is_the_median_lift_of_dark_input_pixels_in_stops():
    gt = np.full((32, 32, 3), 0.5, np.float32)
    gt[:16] = 0.004  # deep shadows
    ldr = np.full_like(gt, 0.7)
    ldr[:16] = 0.01  # below 2 % of the input range
    lifted = gt.copy()
    lifted[:16] *= 2  # one stop too bright
    scores = evaluate_pair(lifted, gt, ldr)
    expected = np.log2((0.008 + SHADOW_FLOOR) / (0.004 + SHADOW_FLOOR))
    assert scores["shadows_below_2pct"] == pytest.approx(expected, abs=1e-6) and expected > 0.9
    assert math.isnan(scores["shadows_2_to_10pct"])  # no pixels in that band
