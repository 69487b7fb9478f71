import pickle

import pytest
import torch

from conftest import random_model
from fhdr_cli.errors import WeightsError
from fhdr_cli.network.checkpoint import load_checkpoint, save_checkpoint, shipped_weights_path


def test_checkpoint_round_trip_keeps_weights_and_training_summary(tmp_path):
    model = random_model(3)
    path = tmp_path / "w.pt"
    save_checkpoint(path, model, {"steps": 12, "phases": []}, step=12)
    ckpt = load_checkpoint(path)
    assert ckpt.training["steps"] == 12 and ckpt.extra["step"] == 12
    for (k, a), (_, b) in zip(model.state_dict().items(), ckpt.model.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on the foreign pickle itself
def test_corrupt_and_foreign_files_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint" * 10)
    foreign = tmp_path / "foreign.pt"
    torch.save({"layer.weight": torch.zeros(3)}, foreign)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(print))  # unpickling this would call code: weights_only refuses
    for path in (corrupt, foreign, evil, tmp_path / "missing.pt"):
        with pytest.raises(WeightsError, match=path.name):
            load_checkpoint(path)


def test_shipped_weights_are_inside_the_package_and_verified():
    path = shipped_weights_path()
    assert path.parent.name == "weights"
    ckpt = load_checkpoint()
    assert ckpt.training.get("steps", 0) > 0  # trained, not random
    assert ckpt.sha256 == path.with_name(path.name + ".sha256").read_text().split()[0]
