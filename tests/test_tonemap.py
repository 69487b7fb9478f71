import warnings

import cv2
import numpy as np
import pytest

from fhdr_cli.colour.tonemap import OPERATORS, encode_png, exposure, exposure_strip, mu_law_preview, reinhard


def _hdr(h: int = 24, w: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    hdr = np.stack([0.05 + 0.5 * xx / w, 0.05 + 0.4 * yy / h, np.full(xx.shape, 0.1)], -1)
    hdr[2:8, 25:35] = 12.0  # highlight far above sRGB white
    return hdr.astype(np.float32)


@pytest.mark.parametrize("name", ["reinhard", "mu-law", "exposure"])
def test_operators_give_uint8_of_the_input_shape(name):
    out = OPERATORS[name](_hdr(), 0.0)
    assert out.dtype == np.uint8 and out.shape == (24, 40, 3)


@pytest.mark.parametrize("name", ["reinhard", "mu-law", "exposure"])
def test_brighter_ev_gives_brighter_image(name):
    op = OPERATORS[name]
    means = [op(_hdr(), ev).mean() for ev in (-2.0, 0.0, 2.0)]
    assert means[0] < means[1] < means[2]


def test_exposure_clips_highlight_and_negative_ev_reveals_it():
    hdr = _hdr()
    assert np.all(exposure(hdr, 0.0)[4, 30] == 255)
    assert np.all(exposure(hdr, -4.0)[4, 30] < 255)
    assert exposure(hdr, 0.0)[0, 0, 2] == exposure(hdr * 2, -1.0)[0, 0, 2]


def test_reinhard_compresses_huge_values_without_overflow():
    hdr = _hdr()
    hdr[0, 0] = 50.0  # bright, but well within range: compressed, not clipped
    hdr[1, 1] = 3e38  # near float32 max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = reinhard(hdr)
    assert np.all(out[0, 0] < 255)
    assert np.all(out[0, 0] > 200)
    assert np.all(out[1, 1] >= 250)
    assert np.all(exposure(hdr)[0, 0] == 255)


def test_reinhard_is_scale_invariant_thanks_to_key_scaling():
    hdr = _hdr()
    diff = np.abs(reinhard(hdr).astype(int) - reinhard(hdr * 1000).astype(int))
    assert diff.max() <= 1  # only the log-average's tiny delta term is not scale invariant


def test_mu_law_preview_maps_peak_to_white():
    out = mu_law_preview(_hdr())
    assert np.all(out[4, 30] == 255)
    assert out[0, 0].max() < 255


def test_exposure_strip_lays_panels_side_by_side_with_dark_gaps():
    hdr = _hdr()
    evs = (-6, -4, -2, 0, 2)
    strip = exposure_strip(hdr, evs, gap=3)
    assert strip.dtype == np.uint8
    assert strip.shape == (24, 5 * 40 + 4 * 3, 3)
    for i in range(1, 5):
        gap_start = i * 40 + (i - 1) * 3
        assert np.all(strip[:, gap_start:gap_start + 3] == 0)
    # bottom rows carry no label: the -6 EV panel is darker than the +2 EV panel
    assert strip[12:, :40].mean() < strip[12:, -40:].mean()


def test_exposure_strip_is_downscaled_to_max_width():
    strip = exposure_strip(_hdr(30, 60), (-2, 0, 2), gap=4, max_width=100)
    assert strip.shape[1] <= 100
    assert strip.shape[1] == 3 * 30 + 2 * 4
    assert strip.shape[0] == 15


def test_encode_png_round_trips_rgb():
    img = exposure(_hdr())
    decoded = cv2.imdecode(np.frombuffer(encode_png(img), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(decoded[..., ::-1], img)
