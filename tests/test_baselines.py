import numpy as np
import pytest
import torch

from fhdr_cli.evaluation.baselines import BASELINES, PEAK, akyuz, landis, srgb_decode
from fhdr_cli.colour.transfer import luminance
from fhdr_cli.evaluation.metrics import align_exposure


def _photo() -> np.ndarray:
    """A gamma-encoded LDR photo: black corner, mid-tone gradient, clipped white patch."""
    yy, xx = np.mgrid[0:32, 0:48]
    ldr = np.stack([0.2 + 0.4 * xx / 48, 0.25 + 0.3 * yy / 32, np.full(xx.shape, 0.4)], -1)
    ldr[:4, :4] = 0.0
    ldr[20:28, 30:40] = 1.0
    return ldr.astype(np.float32)


MID = (slice(4, 20), slice(4, 30))  # mid-tone region, away from the black and white patches


def _lum(rgb: np.ndarray) -> np.ndarray:
    return luminance(torch.from_numpy(rgb), channel_dim=-1).numpy()


def test_registry_names_and_output_format():
    ldr = _photo()
    assert set(BASELINES) == {"srgb-decode", "akyuz", "landis"}
    for name, op in BASELINES.items():
        out = op(ldr)
        assert out.shape == ldr.shape and out.dtype == np.float32, name
        assert np.all(np.isfinite(out)) and out.min() >= 0, name


def test_srgb_decode_known_values_and_never_exceeds_one():
    ldr = _photo()
    out = srgb_decode(ldr)
    assert out.max() <= 1.0
    assert srgb_decode(np.full((1, 1, 3), 0.5, np.float32))[0, 0, 0] == pytest.approx(0.21404, abs=1e-4)


def test_landis_keeps_mid_tones_and_expands_clipped_white_to_peak():
    ldr = _photo()
    base, out = srgb_decode(ldr), landis(ldr)
    np.testing.assert_allclose(out[MID], base[MID], rtol=0.02)
    assert out[24, 35] == pytest.approx(np.full(3, PEAK), rel=1e-5)


def test_landis_expansion_is_monotonic_in_luminance():
    ramp = np.linspace(0, 1, 64, dtype=np.float32)
    ldr = np.repeat(ramp[None, :, None], 3, axis=2)
    lum = _lum(landis(ldr))[0]
    assert np.all(np.diff(lum) > 0)


def test_akyuz_is_a_linear_stretch_to_peak():
    ldr = _photo()
    base, out = srgb_decode(ldr), akyuz(ldr)
    assert _lum(out).max() == pytest.approx(PEAK, rel=1e-5)
    assert _lum(out).min() == pytest.approx(0.0, abs=1e-6)
    # black level 0 and white 1 here, so the stretch is a pure 10x scale of sRGB decoding:
    np.testing.assert_allclose(out, base * PEAK, rtol=1e-5, atol=1e-6)


def test_akyuz_mid_tones_match_srgb_decode_after_exposure_alignment():
    ldr = _photo()
    ldr[:4, :4] = 0.1  # raise the black level, so the stretch is no longer a pure scale
    base = srgb_decode(ldr)
    aligned = align_exposure(akyuz(ldr), base, ldr)
    # the black-level stretch darkens the darkest mid-tones a little (here up to ~8 %)
    np.testing.assert_allclose(aligned[MID], base[MID], rtol=0.1)
    assert np.median(aligned[MID] / base[MID]) == pytest.approx(1.0, abs=0.02)
    assert aligned.max() > 1.0


@pytest.mark.parametrize("op", [akyuz, landis])
def test_expansion_preserves_colour_ratios(op):
    ldr = _photo()
    base, out = srgb_decode(ldr), op(ldr)
    # chromaticity (RGB / sum) is unchanged wherever there is light
    lit = base.sum(-1) > 0
    chroma = lambda x: x[lit] / x[lit].sum(-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(chroma(out), chroma(base), atol=1e-5)
