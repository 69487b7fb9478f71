import numpy as np
import pytest
import torch

from fhdr_cli.model import FHDR
from fhdr_cli.checkpoint import save_checkpoint


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tests measure results, not speed; 1 thread stays fast on a busy machine


def random_model(seed: int = 0) -> FHDR:
    """An FHDR with non-trivial random weights (the real head starts at zero, which hides bugs)."""
    torch.manual_seed(seed)
    model = FHDR().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.05)
    return model


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """A checkpoint with random weights, so CLI tests never depend on the shipped file's quality."""
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    save_checkpoint(path, random_model(), {"phases": [], "steps": 0, "note": "random weights for tests"})
    return path


@pytest.fixture
def photo():
    """A small RGB uint8 photo with a clipped bright region."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:37, 0:53]
    img = np.stack([xx * 4, yy * 6, (xx + yy) * 2], -1).astype(np.float32) + rng.normal(0, 3, (37, 53, 3))
    img[5:15, 30:45] = 255
    return np.clip(img, 0, 255).astype(np.uint8)
