"""The CUDA path's uploads ahead, pinned copies back and tiles: the same results as without them.

A missing wait between the upload stream and the model's, or a pinned buffer read before its copy
is done, shows as another photo's pixels or stale memory: far beyond these tolerances.
"""

import numpy as np
import pytest
import torch

from fhdr_cli.inference.batch import plan_batch, run_batch
from fhdr_cli.inference.pipeline import Converter
from fhdr_cli.io.hdr_files import read_hdr
from conftest import encode
from icc_profiles import P3_TO_REC709

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def photos(count: int, height: int = 96, width: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(8)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def close(a: np.ndarray, b: np.ndarray, tolerance: float = 1e-5) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).max()) <= tolerance * max(1.0, float(np.abs(b).max()))


def test_photos_uploaded_ahead_convert_as_photos_uploaded_on_the_spot(weights_file):
    converter = Converter.load(weights=weights_file, device="cuda", iterations=2)
    batch = photos(4)
    expected = [converter(image) for image in batch]
    uploads = [converter.upload(image) for image in batch]  # all in flight before the first conversion
    for upload, reference in zip(uploads, expected):
        assert upload.pixels.is_cuda
        assert close(converter(upload), reference)


@pytest.mark.parametrize("wrap", [False, True])
def test_cuda_tiles_and_batched_windows_equal_the_whole_photo(weights_file, wrap):
    image = photos(1, 150, 200)[0]
    whole = Converter.load(weights=weights_file, device="cuda", iterations=2, wrap=wrap)(image)
    progress = []
    tiled = Converter.load(weights=weights_file, device="cuda", iterations=2, tile=32, wrap=wrap)(
        image, on_tile=lambda done, total: progress.append((done, total)))
    assert close(tiled, whole, 1e-4)
    assert progress[-1][0] == progress[-1][1] == len(progress) > 1
    cpu = Converter.load(weights=weights_file, device="cpu", iterations=2, wrap=wrap)(image)
    assert close(whole, cpu)


def test_grey_and_16_bit_photos_and_colour_matrices_on_cuda_equal_the_cpus(weights_file):
    rgb = photos(1)[0]
    p3_to_rec709 = np.array(P3_TO_REC709)  # the colour matrix runs on the device
    cpu, cuda = (Converter.load(weights=weights_file, device=device, iterations=1, exposure_ev=-1.5)
                 for device in ("cpu", "cuda"))
    for image in (rgb[..., 0], rgb.astype(np.uint16) * 257):
        assert close(cuda(image, rgb_to_rec709=p3_to_rec709), cpu(image, rgb_to_rec709=p3_to_rec709))


def test_a_cuda_batch_uploading_ahead_gives_each_photo_its_own_result(tmp_path, weights_file):
    (tmp_path / "in").mkdir()
    batch = photos(5)
    for i, image in enumerate(batch):
        (tmp_path / "in" / f"p{i}.png").write_bytes(encode(".png", image[:, :, ::-1]))
    converter = Converter.load(weights=weights_file, device="cuda", iterations=2)
    results = list(run_batch(plan_batch(tmp_path / "in", tmp_path / "out"), converter, float32=True))
    assert [r.status for r in results] == ["converted"] * 5
    for i, image in enumerate(batch):
        assert close(read_hdr(tmp_path / "out" / f"p{i}.exr"), np.maximum(converter(image), 0))
