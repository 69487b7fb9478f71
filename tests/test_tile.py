import numpy as np
import pytest
import torch

from conftest import random_model
from fhdr_cli.errors import FhdrError
from fhdr_cli.model import receptive_radius
from fhdr_cli.pipeline import Converter
from fhdr_cli.tile import computed_pixels, crop_core, iter_windows, plan_tiles, reflect_indices


def test_reflect_indices_match_numpy_and_handle_tiny_images():
    x = np.arange(7)
    assert np.array_equal(x[reflect_indices(7, 3)], np.pad(x, 3, mode="reflect"))
    assert np.array_equal(reflect_indices(1, 5), np.zeros(11, dtype=int))
    idx = reflect_indices(2, 10)
    assert idx.shape == (22,) and set(idx.tolist()) == {0, 1}


def test_tiles_cover_the_image_exactly_once():
    tiles = plan_tiles(301, 517, 128)
    cover = np.zeros((301, 517), dtype=np.int32)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.y1 - t.y0 <= 128 and t.x1 - t.x0 <= 128
    assert (cover == 1).all()


def test_tiled_equals_whole_on_an_odd_sized_image():
    model = random_model()
    iterations = 1
    radius = receptive_radius(iterations)
    image = np.random.default_rng(1).random((301, 517, 3), dtype=np.float32)

    def run(tile: int) -> np.ndarray:
        out = np.zeros((301, 517, 3), np.float32)
        for t, window in iter_windows(image, radius, tile):
            x = torch.from_numpy(window).permute(2, 0, 1)[None]
            with torch.no_grad():
                y = model.infer(x, iterations)
            out[t.y0 : t.y1, t.x0 : t.x1] = crop_core(y, t, radius)[0].permute(1, 2, 0).numpy()
        return out

    whole, tiled = run(600), run(128)
    assert np.abs(tiled - whole).max() <= 1e-4
    assert np.abs(whole).mean() > 0.01  # a real image, not zeros


def test_converter_tiles_exactly_at_four_iterations(weights_file):
    image = np.random.default_rng(2).integers(0, 256, (61, 83, 3), dtype=np.uint8)
    whole = Converter.load(weights=weights_file, device="cpu", iterations=4, tile=512)(image)
    tiled = Converter.load(weights=weights_file, device="cpu", iterations=4, tile=32)(image)
    assert whole.shape == (61, 83, 3)
    assert np.abs(tiled - whole).max() <= 1e-4


def test_computed_pixels_counts_margins():
    assert computed_pixels(100, 100, 100, 10) == 120 * 120
    assert computed_pixels(100, 100, 50, 10) == 4 * 70 * 70


def test_cuda_out_of_memory_halves_the_tile_and_retries(weights_file, monkeypatch):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=256)
    image = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    expected = converter(image)
    real_convert, tried = converter._convert, []

    def runs_out_above_100_px(image, tile, on_tile):
        tried.append(tile)
        if tile > 100:
            raise torch.cuda.OutOfMemoryError("simulated")
        return real_convert(image, tile, on_tile)

    monkeypatch.setattr(converter, "_convert", runs_out_above_100_px)
    assert np.array_equal(converter(image), expected)  # exact tiling: smaller tiles, same result
    assert tried == [256, 128, 64]


def test_cuda_out_of_memory_at_the_smallest_tile_is_a_clear_error(weights_file, monkeypatch):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=128)

    def always_out_of_memory(image, tile, on_tile):
        raise torch.cuda.OutOfMemoryError("simulated")

    monkeypatch.setattr(converter, "_convert", always_out_of_memory)
    with pytest.raises(FhdrError, match="out of GPU memory"):
        converter(np.zeros((8, 8, 3), np.uint8))


def test_cuda_tiles_grow_with_free_gpu_memory_not_the_host_budget(weights_file, monkeypatch):
    cpu = Converter.load(weights=weights_file, device="cpu", iterations=4)
    free = {"bytes": 64 << 30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 80 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
    gpu = Converter(checkpoint=cpu.checkpoint, device=torch.device("cuda"), iterations=4, half=True)
    assert gpu.tile_size(3000, 4000) == 4000  # a 12 MP photo runs whole on a card with 64 GB free
    assert cpu.tile_size(3000, 4000) < 600  # the host budget would cut it into dozens of tiles
    free["bytes"] = 1 << 30
    assert gpu.tile_size(3000, 4000) < cpu.tile_size(3000, 4000) * 2
