import numpy as np
import pytest
import torch

from conftest import random_model
from fhdr_cli.errors import FhdrError
from fhdr_cli.network.fhdr import receptive_radius
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.inference.tile import batch_tiles, computed_pixels, crop_core, iter_windows, plan_tiles


def test_tiles_cover_the_image_exactly_once_with_windows_inside_it():
    tiles = plan_tiles(301, 517, 128, radius=29)
    cover = np.zeros((301, 517), dtype=np.int32)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert t.y1 - t.y0 <= 128 and t.x1 - t.x0 <= 128
        assert 0 <= t.wy0 <= t.y0 and t.y1 <= t.wy1 <= 301 and 0 <= t.wx0 <= t.x0 and t.x1 <= t.wx1 <= 517
        # the margin is the full radius wherever the image has that much context
        assert t.y0 - t.wy0 == min(29, t.y0) and t.wx1 - t.x1 == min(29, 517 - t.x1)
    assert (cover == 1).all()


def test_tiled_equals_whole_on_an_odd_sized_image():
    model = random_model()
    iterations = 1
    radius = receptive_radius(iterations)
    image = np.random.default_rng(1).random((301, 517, 3), dtype=np.float32)

    def run(tile: int) -> np.ndarray:
        out = np.zeros((301, 517, 3), np.float32)
        for t, window in iter_windows(image, plan_tiles(301, 517, tile, radius)):
            x = torch.from_numpy(np.ascontiguousarray(window)).permute(2, 0, 1)[None]
            with torch.no_grad():
                y = model.infer(x, iterations)
            out[t.y0 : t.y1, t.x0 : t.x1] = crop_core(y, t)[0].permute(1, 2, 0).numpy()
        return out

    whole, tiled = run(600), run(128)
    assert np.abs(tiled - whole).max() <= 1e-4
    with torch.no_grad():  # one tile is the network on the photo as it is, borders included
        direct = model.infer(torch.from_numpy(image).permute(2, 0, 1)[None], iterations)[0].permute(1, 2, 0).numpy()
    assert np.abs(whole - direct).max() <= 1e-6
    assert np.abs(whole).mean() > 0.01  # a real image, not zeros


def test_converter_tiles_exactly_at_four_iterations(weights_file):
    image = np.random.default_rng(2).integers(0, 256, (61, 83, 3), dtype=np.uint8)
    whole = Converter.load(weights=weights_file, device="cpu", iterations=4, tile=512)(image)
    tiled = Converter.load(weights=weights_file, device="cpu", iterations=4, tile=32)(image)
    assert whole.shape == (61, 83, 3)
    assert np.abs(tiled - whole).max() <= 1e-4


def test_computed_pixels_counts_margins_inside_the_image_only():
    assert computed_pixels(100, 100, 100, 10) == 100 * 100
    assert computed_pixels(100, 100, 50, 10) == 4 * 60 * 60


def test_cuda_out_of_memory_halves_the_tile_and_retries(weights_file, monkeypatch):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=256)
    image = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    expected = converter(image)
    real_convert, tried = converter._convert, []

    def runs_out_above_100_px(image, tile, batch_pixels, *rest):
        tried.append(tile)
        if tile > 100:
            raise torch.cuda.OutOfMemoryError("simulated")
        return real_convert(image, tile, batch_pixels, *rest)

    monkeypatch.setattr(converter, "_convert", runs_out_above_100_px)
    assert np.array_equal(converter(image), expected)  # exact tiling: smaller tiles, same result
    assert tried == [256, 128, 64]


def test_batches_group_equal_windows_within_the_pixel_limit():
    tiles = plan_tiles(200, 300, 50, radius=10)  # 4 x 6 tiles; 2 x 4 interior windows of 70 x 70
    batches = batch_tiles(tiles, max_pixels=3 * 70 * 70)
    flat = [t for b in batches for t in b]
    assert len(flat) == len(tiles) and set(flat) == set(tiles)  # every tile exactly once
    for batch in batches:
        shapes = {(t.wy1 - t.wy0, t.wx1 - t.wx0) for t in batch}
        assert len(shapes) == 1
        assert len(batch) == 1 or len(batch) * batch[0].window_pixels <= 3 * 70 * 70
    assert [len(b) for b in batches if b[0].window_pixels == 70 * 70] == [3, 3, 2]
    assert all(len(b) == 1 for b in batch_tiles(tiles, max_pixels=0))


def test_plain_engine_batches_small_tiles_with_the_same_result(weights_file, monkeypatch):
    image = np.random.default_rng(6).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=32, engine="plain")
    expected = Converter.load(weights=weights_file, device="cpu", iterations=1, engine="plain")(image)
    real_infer, batch_sizes = converter.model.infer, []
    monkeypatch.setattr(converter.model, "infer", lambda x, *rest: batch_sizes.append(len(x)) or real_infer(x, *rest))
    progress = []
    tiled = converter(image, on_tile=lambda done, total: progress.append((done, total)))
    assert np.abs(tiled - expected).max() <= 1e-4
    assert max(batch_sizes) > 1 and sum(batch_sizes) == len(progress) == progress[-1][1]


def test_cuda_out_of_memory_drops_batching_before_shrinking_tiles(weights_file, monkeypatch):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=16, engine="plain")
    real_convert, tried = converter._convert, []

    def runs_out_when_batched(image, tile, batch_pixels, *rest):
        tried.append((tile, batch_pixels > 0))
        if batch_pixels:
            raise torch.cuda.OutOfMemoryError("simulated")
        return real_convert(image, tile, batch_pixels, *rest)

    monkeypatch.setattr(converter, "_convert", runs_out_when_batched)
    converter(np.zeros((40, 40, 3), np.uint8))
    assert tried == [(16, True), (16, False)]


def test_cuda_out_of_memory_at_the_smallest_tile_is_a_clear_error(weights_file, monkeypatch):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1, tile=128)

    def always_out_of_memory(*args):
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


def test_small_photos_run_whole_and_large_ones_tile_within_the_budget(weights_file, monkeypatch):
    from fhdr_cli.inference import pipeline

    monkeypatch.setattr(pipeline, "available_memory", lambda: 16 << 30)
    converter = Converter.load(weights=weights_file, device="cpu", iterations=4)
    assert converter.tile_size(1024, 1024) == 1024  # 1 MP: one tile, no margins to compute
    tile = converter.tile_size(4000, 6000)  # 24 MP: tiles whose windows fit the default budget
    window = (tile + 2 * converter.radius) ** 2 * pipeline.ACTIVATION_BYTES_PER_PIXEL["fused"]
    assert 256 <= tile and window + pipeline.IMAGE_BYTES_PER_PIXEL * 24_000_000 <= pipeline.DEFAULT_MEMORY_BUDGET
    monkeypatch.setattr(pipeline, "available_memory", lambda: 3 << 30)
    assert converter.tile_size(1024, 1024) < 1024  # not when the machine has little RAM free
    monkeypatch.setattr(pipeline, "available_memory", lambda: 16 << 30)
    strict = Converter.load(weights=weights_file, device="cpu", iterations=4, memory_budget=512 << 20)
    assert strict.tile_size(1024, 1024) < 1024  # an explicit budget is a hard limit


def test_kept_buffers_are_reused_for_similar_photos_and_replaced_for_smaller_ones(weights_file):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1)
    if converter.engine != "fused":
        pytest.skip("only the fused engine keeps buffers")
    rng = np.random.default_rng(4)
    big, similar, small = (rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((60, 80, 3), (58, 80, 3), (20, 30, 3)))
    converter(big)
    kept = converter._workspace
    converter(similar)
    assert converter._workspace is kept
    expected = Converter.load(weights=weights_file, device="cpu", iterations=1, engine="plain")(small)
    assert np.abs(converter(small) - expected).max() <= 1e-4
    assert converter._workspace is not kept and converter._workspace.pixels == 20 * 30


def test_preprocess_gives_the_same_float_rgb_for_every_photo_type():
    from fhdr_cli.inference.pipeline import preprocess

    rgb = np.random.default_rng(5).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    assert preprocess(rgb).dtype == torch.float32
    assert torch.equal(preprocess(rgb), expected)
    assert torch.equal(preprocess(np.dstack([rgb, rgb[..., :1]])), expected)  # alpha dropped
    assert torch.allclose(preprocess(rgb.astype(np.uint16) * 257), expected, atol=1e-7)
    assert torch.allclose(preprocess(rgb.astype(np.float64) / 255.0), expected, atol=1e-7)
    grey = preprocess(rgb[..., 0])
    assert grey.shape == (1, 3, 5, 7) and torch.equal(grey[:, 1], expected[:, 0]) and torch.equal(grey[:, 2], expected[:, 0])


def test_reserved_buffers_serve_the_photo_they_were_reserved_for(weights_file):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1)
    if converter.engine != "fused":
        pytest.skip("only the fused engine keeps buffers")
    converter.reserve(60, 80)
    reserved = converter._workspace
    assert reserved.pixels == 60 * 80
    converter(np.zeros((60, 80, 3), np.uint8))
    assert converter._workspace is reserved


def test_wrapped_windows_read_across_the_sides_of_a_panorama():
    image = np.arange(6 * 10).reshape(6, 10)
    tiles = plan_tiles(6, 10, 5, radius=3, wrap=True)
    assert [(t.wx0, t.wx1) for t in tiles[:2]] == [(-3, 8), (2, 13)]
    windows = dict((t.x0, w) for t, w in iter_windows(image, tiles[:2]))
    assert windows[0][0].tolist() == [7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7]
    assert windows[5][0].tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    # the radius may exceed a narrow panorama's width: its columns then repeat
    [whole] = plan_tiles(6, 4, 8, radius=5, wrap=True)
    [(_, window)] = iter_windows(np.arange(4)[None], [whole])
    assert window[0].tolist() == [3, 0, 1, 2] * 3 + [3, 0]
    assert computed_pixels(6, 10, 10, 3, wrap=True) == 6 * 16


def test_windows_of_uploaded_pixels_are_the_windows_of_the_photo():
    # on CUDA the windows come from the photo's pixels on the GPU: a tensor is cut exactly as the array
    image = np.random.default_rng(7).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for wrap in (False, True):
        tiles = plan_tiles(20, 30, 12, radius=5, wrap=wrap)
        for (t, array), (u, tensor) in zip(iter_windows(image, tiles), iter_windows(torch.from_numpy(image), tiles)):
            assert t == u and np.array_equal(tensor.numpy(), array)


def test_results_land_in_place_one_behind_when_copies_are_in_flight():
    # the CUDA path's order (a tile lands once the next one is queued), here on CPU tensors
    from fhdr_cli.inference.pipeline import _ResultsToHost

    tiles = plan_tiles(10, 14, 5, radius=2)
    out, progress = np.zeros((10, 14, 3), np.float32), []
    results = _ResultsToHost(out, len(tiles), lambda done, total: progress.append((done, total)), in_flight=1)
    for i, t in enumerate(tiles):
        results.put(t, torch.full((t.y1 - t.y0, t.x1 - t.x0, 3), float(i + 1)))
        assert len(progress) == i  # the previous tile has landed, this one not yet
    results.finish()
    assert progress == [(i + 1, len(tiles)) for i in range(len(tiles))]
    for i, t in enumerate(tiles):
        assert (out[t.y0 : t.y1, t.x0 : t.x1] == i + 1).all()


def test_an_uploaded_photo_converts_as_the_photo(weights_file, photo):
    converter = Converter.load(weights=weights_file, device="cpu", iterations=1)
    upload = converter.upload(photo)
    assert upload.image is photo and upload.pixels is None  # the CPU reads the photo's tiles itself
    assert np.array_equal(converter(upload), converter(photo))


@pytest.mark.parametrize("tile", [512, 24])
def test_a_wrapped_panorama_equals_the_middle_of_its_repeated_row(weights_file, tile):
    iterations = 2
    image = np.random.default_rng(4).integers(0, 256, (33, 41, 3), dtype=np.uint8)
    copies = 2 * -(-receptive_radius(iterations) // 41) + 1  # enough copies to give the middle one full context
    row = Converter.load(weights=weights_file, device="cpu", iterations=iterations, tile=4096)(np.tile(image, (1, copies, 1)))
    middle = row[:, copies // 2 * 41 : (copies // 2 + 1) * 41]
    wrapped = Converter.load(weights=weights_file, device="cpu", iterations=iterations, tile=tile, wrap=True)(image)
    assert np.abs(wrapped - middle).max() <= 1e-4
    plain = Converter.load(weights=weights_file, device="cpu", iterations=iterations, tile=tile)(image)
    assert np.abs(plain - middle)[:, :3].max() > 1e-3  # without --wrap the sides differ: the test can tell
