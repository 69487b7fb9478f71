import numpy as np
import pytest
import torch

from fhdr_cli.colour.transfer import WELL_EXPOSED, srgb_to_linear
from fhdr_cli.simulation.scenes import Scene, perspective_view, random_view
from fhdr_cli.simulation.simulate import simulate


def _scene(h=64, w=128, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.uniform(0.05, 1.0, (h, w, 3)).astype(np.float32)
    img[10:20, 30:50] = 200.0  # a light source
    return img


def test_simulation_clips_a_bounded_fraction_and_is_reproducible():
    hdr = _scene()
    for seed in range(6):
        a = simulate(hdr, np.random.default_rng(seed))
        b = simulate(hdr, np.random.default_rng(seed))
        assert np.array_equal(a.ldr, b.ldr) and np.array_equal(a.target, b.target)
        assert a.ldr.dtype == np.float32 and 0.0 <= a.ldr.min() and a.ldr.max() <= 1.0
        clipped = (a.ldr.max(axis=-1) >= 250 / 255).mean()
        assert 0.002 <= clipped <= 0.25
        assert np.allclose(a.ldr * 255, np.round(a.ldr * 255), atol=1e-4)  # 8-bit quantised


def test_target_is_anchored_to_the_srgb_decoded_input():
    hdr = _scene(seed=1)
    pair = simulate(hdr, np.random.default_rng(3))
    lo, hi = WELL_EXPOSED
    ok = np.all((pair.ldr > lo) & (pair.ldr < hi), axis=-1)
    decoded = srgb_to_linear(torch.from_numpy(pair.ldr)).numpy()
    ratio = np.median(decoded[ok] / np.maximum(pair.target[ok], 1e-6))
    assert abs(ratio - 1.0) < 0.02
    assert pair.target.max() > 5.0  # the light source stays far above 1.0 in the target


def test_views_have_the_requested_size_and_stay_in_one_cube_face():
    rng = np.random.default_rng(0)
    faces = np.concatenate([np.full((32, 32, 3), float(i), np.float32) for i in range(6)], axis=1)
    strip = Scene("strip", faces)
    assert strip.kind == "cubestrip"
    for _ in range(10):
        view = random_view(strip, rng, 24)
        assert view.shape == (24, 24, 3)
        assert np.ptp(view) == 0  # never straddles two faces
    pano = Scene("pano", _scene())
    assert pano.kind == "panorama" and random_view(pano, rng, 40).shape == (40, 40, 3)


def test_perspective_view_looks_where_it_is_told():
    pano = np.zeros((64, 128, 3), np.float32)
    pano[:32] = 1.0  # bright sky above the horizon
    up = perspective_view(pano, yaw=0.0, pitch=np.radians(60), fov=np.radians(60), width=16, height=12)
    down = perspective_view(pano, yaw=0.0, pitch=np.radians(-60), fov=np.radians(60), width=16, height=12)
    assert up.mean() > 0.9 and down.mean() < 0.1


def test_lens_glare_spreads_a_bare_lamp_into_a_halo_and_keeps_its_light():
    from fhdr_cli.simulation.light_sources import add_lens_glare

    view = np.full((128, 128, 3), 0.1, np.float32)
    view[60:68, 60:68] = 1000.0  # a rendered lamp: a hard edge, nothing around it
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert add_lens_glare(view, rng, probability=0.0) is view and rng.bit_generator.state == state
    seen = [add_lens_glare(view, np.random.default_rng(seed), probability=1.0) for seed in range(6)]
    for glared in seen:
        assert glared.dtype == np.float32
        assert glared.sum() == pytest.approx(view.sum(), rel=1e-3)  # the lens moves light, it makes none
        ring = glared[50:78, 50:78].copy()
        ring[10:18, 10:18] = np.nan  # around the lamp, not on it
        assert np.nanmin(ring) > 0.1 and glared[60:68, 60:68].max() < 1000.0
        assert glared[0, 0, 0] < np.nanmin(ring)  # the halo falls off with distance
    fractions = [1 - g[64, 64, 0] / 1000.0 for g in seen]
    assert max(fractions) / min(fractions) > 3  # hazy and clean lenses alike


def test_light_sources_add_bright_glaring_lights_reproducibly():
    from fhdr_cli.simulation.light_sources import add_light_sources

    view = np.random.default_rng(0).uniform(0.05, 1.0, (96, 96, 3)).astype(np.float32)
    assert add_light_sources(view, np.random.default_rng(1), probability=0.0) is view
    lit = [add_light_sources(view, np.random.default_rng(seed), probability=1.0) for seed in range(12)]
    again = add_light_sources(view, np.random.default_rng(3), probability=1.0)
    assert np.array_equal(again, lit[3])
    reference = np.quantile(view.max(axis=-1), 0.95)
    peaks = np.array([x.max() for x in lit]) / reference
    assert peaks.min() >= 10 and peaks.max() >= 100  # windows from 10x, suns and bulbs 100x-100,000x
    # glare: pixels outside every source got brighter in most samples, never darker
    assert all((x >= view - 1e-6).sum() > 0.9 * view[..., 0].size for x in lit)
    outside = [(x - view)[x.max(axis=-1) < 2 * reference] for x in lit]
    assert sum(float(d.mean()) > 1e-4 for d in outside) >= 8  # one sample in eight has a glare-free lens
