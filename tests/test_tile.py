import torch

from conftest import random_model
from fhdr_cli.model import receptive_radius
from fhdr_cli.tile import computed_pixels, iter_tiles, plan_tiles, reflect_pad


def test_reflect_pad_matches_torch_and_handles_tiny_images():
    x = torch.rand(1, 3, 7, 9)
    assert torch.equal(reflect_pad(x, 3), torch.nn.functional.pad(x, (3, 3, 3, 3), mode="reflect"))
    one = torch.rand(1, 3, 1, 1)
    assert torch.equal(reflect_pad(one, 5), one.expand(1, 3, 11, 11))
    assert reflect_pad(torch.rand(1, 1, 2, 3), 10).shape == (1, 1, 22, 23)


def test_tiles_cover_the_image_exactly_once():
    tiles = plan_tiles(301, 517, 128)
    cover = torch.zeros(301, 517, dtype=torch.int32)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.y1 - t.y0 <= 128 and t.x1 - t.x0 <= 128
    assert bool((cover == 1).all())


def test_tiled_equals_whole_on_an_odd_sized_image():
    model = random_model()
    iterations = 1
    radius = receptive_radius(iterations)
    image = torch.rand(1, 3, 301, 517, generator=torch.Generator().manual_seed(1))
    run = lambda window: model.infer(window, iterations)  # noqa: E731
    with torch.no_grad():
        (_, whole), = iter_tiles(run, image, radius, tile=600)
        tiled = torch.empty_like(whole)
        for t, core in iter_tiles(run, image, radius, tile=128):
            tiled[..., t.y0 : t.y1, t.x0 : t.x1] = core
    assert whole.shape == image.shape
    assert (tiled - whole).abs().max() <= 1e-4


def test_computed_pixels_counts_margins():
    assert computed_pixels(100, 100, 100, 10) == 120 * 120
    assert computed_pixels(100, 100, 50, 10) == 4 * 70 * 70
