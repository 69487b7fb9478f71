"""HDR quality metrics of our evaluation spec: PSNR-mu, SSIM-mu, PSNR-mu on clipped pixels, HDR-FLIP,
and two that users feel directly: the light a clipped region emits, and the bias in the shadows.

A single LDR photo does not determine the absolute scale of the scene, so every
prediction is first put on the ground truth's scale (`align_exposure`); the
metrics then judge shape, not exposure. PSNR and SSIM are computed on mu-law
tonemapped images normalised by the ground truth's peak, which is what the
paper's loss sees and what FHDR-style papers report.

Numpy functions take HxWx3 float32 linear RGB; `ssim` is the differentiable
torch version that training uses as a loss.
"""

from __future__ import annotations

import cv2
import flip_evaluator as flip
import numpy as np
import torch
import torch.nn.functional as F

from ..colour.transfer import luminance, mu_law

WELL_EXPOSED = (0.05, 0.95)  # LDR code values whose scene radiance the photo recorded faithfully
MIN_ANCHOR_PIXELS = 16  # fewer well-exposed pixels than this make the median ratio unreliable
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # Wang et al. 2004
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # (K * data range)^2 with data range 1


def align_exposure(pred: np.ndarray, gt: np.ndarray, ldr: np.ndarray) -> np.ndarray:
    """`pred` scaled by the median luminance ratio gt/pred over pixels well exposed in `ldr`.

    Well-exposed pixels are where any method should agree with the photo, so
    anchoring there removes the unknowable global scale without rewarding or
    punishing what a method does in clipped or dark regions. The median ignores
    the few outliers noise and JPEG leave behind.
    """
    lum_pred, lum_gt = _luminance(pred), _luminance(gt)
    lo, hi = WELL_EXPOSED
    usable = np.all((ldr >= lo) & (ldr <= hi), axis=-1) & (lum_pred > 0)
    if usable.sum() < MIN_ANCHOR_PIXELS:
        usable = lum_pred > 0
    if not usable.any():
        return pred.astype(np.float32)
    scale = np.median(lum_gt[usable] / lum_pred[usable])
    return (pred * scale).astype(np.float32)


def _normalised_mu(pred: np.ndarray, gt: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images divided by the ground truth's peak and mu-law tonemapped (float64 HxWx3)."""
    peak = max(float(gt.max()), 1e-12)
    as_mu = lambda x: mu_law(torch.from_numpy(x.astype(np.float64)) / peak)  # noqa: E731
    return as_mu(pred), as_mu(gt)


def psnr_mu(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (peak 1) of the normalised mu-law images, over all pixels or the HxW bool `mask`.

    Returns inf for identical images and nan for an empty mask (the metric is
    undefined there; the evaluation averages only finite values).
    """
    pred_mu, gt_mu = _normalised_mu(pred, gt)
    diff = pred_mu - gt_mu
    if mask is not None:
        if not mask.any():
            return float("nan")
        diff = diff[torch.from_numpy(mask)]
    mse = float((diff**2).mean())
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(1.0 / mse))


def _gaussian_1d(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (N,) of (N, C, H, W) tensors in [0, 1], averaged over channels and pixels.

    Differentiable, because training uses 1 - SSIM on mu-law images as its default
    perceptual term. Gaussian 11x11 window, sigma 1.5, valid region only (as in
    Wang et al.'s reference code), so H and W must be at least 11. The Gaussian is
    separable, so it is applied as two 1-D depthwise convolutions.
    """
    channels = a.shape[1]
    g = _gaussian_1d(a.dtype, a.device)
    row = g.view(1, 1, 1, -1).expand(channels, 1, 1, SSIM_WINDOW)
    col = g.view(1, 1, -1, 1).expand(channels, 1, SSIM_WINDOW, 1)
    blur = lambda x: F.conv2d(F.conv2d(x, row, groups=channels), col, groups=channels)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    )
    return ssim_map.mean(dim=(1, 2, 3))


def ssim_mu(pred: np.ndarray, gt: np.ndarray) -> float:
    """SSIM of the normalised mu-law images (the same images `psnr_mu` compares)."""
    pred_mu, gt_mu = _normalised_mu(pred, gt)
    as_batch = lambda x: x.permute(2, 0, 1).unsqueeze(0)  # noqa: E731
    return float(ssim(as_batch(pred_mu), as_batch(gt_mu))[0])


def clipped_mask(ldr: np.ndarray, threshold: float = 0.99) -> np.ndarray:
    """HxW bool: pixels where any channel of the LDR input is saturated.

    These are the pixels a single-image HDR method has to hallucinate, so
    `psnr_mu` restricted to them measures highlight recovery specifically.
    """
    return np.any(ldr >= threshold, axis=-1)


def clipped_regions(ldr: np.ndarray) -> np.ndarray:
    """HxW labels of the 8-connected regions of `clipped_mask` (0: not clipped): one lamp, one sky."""
    return cv2.connectedComponents(clipped_mask(ldr).astype(np.uint8), connectivity=8)[1]


def _flip_input(x: np.ndarray) -> np.ndarray:
    """flip_evaluator's C++ binding needs float32, C-contiguous, non-negative HxWx3."""
    return np.ascontiguousarray(np.maximum(x, 0.0), dtype=np.float32)


def hdr_flip(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean HDR-FLIP error (lower is better): perceived difference over a range of exposures.

    Unlike the mu-law metrics it models how a person sees the images, and it
    is the HDR metric of choice in recent rendering and reconstruction work.
    """
    _, mean_error, _ = flip.evaluate(_flip_input(gt), _flip_input(pred), "HDR", inputsRGB=False,
                                     applyMagma=False, computeMeanError=True)
    return float(mean_error)


LIGHT_SOURCE_PEAK = 100.0  # a view "has a light source in view" when its true peak is >= 100x the clip level
SHADOW_BANDS = {"shadows_below_2pct": (0.0, 0.02), "shadows_2_to_10pct": (0.02, 0.10)}  # input code values
MIN_LIGHT_PIXELS = 4
MIN_SHADOW_PIXELS = 16
SHADOW_FLOOR = 1e-4  # ~ a third of 8-bit sRGB code 1: keeps log ratios of black pixels finite


def light_log2_ratio(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """log2(sum of predicted luminance / sum of true luminance) over the HxW bool `mask`, the pixels
    clipped in the photo (`clipped_mask`).

    The light that a clipped region (a lamp, the sun, a window) emits, in stops: what an artist
    lighting a CG scene with the HDR gets. Negative: too dim. nan with fewer than 4 clipped pixels.
    """
    if mask.sum() < MIN_LIGHT_PIXELS:
        return float("nan")
    emitted = lambda x: float(np.maximum(_luminance(x)[mask], 0.0).sum())  # noqa: E731
    return float(np.log2(max(emitted(pred), 1e-12) / max(emitted(gt), 1e-12)))


def shadow_bias(pred: np.ndarray, gt: np.ndarray, ldr: np.ndarray, band: tuple[float, float]) -> float:
    """Median log2(predicted / true luminance), in stops, over pixels whose input lies in `band`
    (brightest channel); positive: shadows lifted. nan with too few such pixels."""
    brightest = ldr.max(axis=-1)
    mask = (brightest >= band[0]) & (brightest < band[1])
    if mask.sum() < MIN_SHADOW_PIXELS:
        return float("nan")
    ratio = (_luminance(pred)[mask] + SHADOW_FLOOR) / (np.maximum(_luminance(gt)[mask], 0.0) + SHADOW_FLOOR)
    return float(np.median(np.log2(np.maximum(ratio, 1e-12))))


def _luminance(x: np.ndarray) -> np.ndarray:
    return luminance(torch.from_numpy(x.astype(np.float64)), channel_dim=-1).numpy()


def evaluate_pair(pred: np.ndarray, gt: np.ndarray, ldr: np.ndarray, clip_level: float | None = None) -> dict[str, float]:
    """All spec metrics of one prediction against its ground truth, after exposure alignment.

    `clip_level` (the true value at which the photo clipped) marks views with a light source in
    view (`light_error_sources`, nan for the others); without it that metric is nan.
    """
    aligned = align_exposure(pred, gt, ldr)
    clipped = clipped_mask(ldr)
    light = light_log2_ratio(aligned, gt, clipped)
    has_source = clip_level is not None and float(gt.max()) >= LIGHT_SOURCE_PEAK * clip_level
    return {
        "psnr_mu": psnr_mu(aligned, gt),
        "ssim_mu": ssim_mu(aligned, gt),
        "psnr_mu_clipped": psnr_mu(aligned, gt, clipped),
        "hdr_flip": hdr_flip(aligned, gt),
        "light_error": abs(light),
        "light_bias": light,
        "light_error_sources": abs(light) if has_source else float("nan"),
        **{name: shadow_bias(aligned, gt, ldr, band) for name, band in SHADOW_BANDS.items()},
    }
