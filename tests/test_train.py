from pathlib import Path

import numpy as np
import pytest

from fhdr_cli.errors import UsageError
from fhdr_cli.scenes import Scene
from fhdr_cli.train import SimulatedBatches, TrainSettings, learning_rate, train


def test_cosine_learning_rate_falls_from_peak_to_a_twentieth():
    s = TrainSettings(data=Path("."), lr=1e-3)
    rates = [learning_rate(s, f) for f in np.linspace(0, 1, 11)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(5e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert learning_rate(s, 2.0) == pytest.approx(5e-5)  # a run that overshoots its budget stays at the floor
    assert learning_rate(TrainSettings(data=Path("."), lr=1e-3, lr_decay="none"), 0.7) == 1e-3


def test_unknown_learning_rate_decay_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="lr-decay"):
        train(TrainSettings(data=tmp_path, lr_decay="linear"))


def test_simulated_batches_have_the_requested_shape_and_differ():
    scene = Scene("flat", np.random.default_rng(0).random((80, 120, 3), dtype=np.float32) * 4)
    stream = iter(SimulatedBatches([scene], patch=32, batch=3, seed=0))
    (ldr1, hdr1), (ldr2, _) = next(stream), next(stream)
    assert ldr1.shape == hdr1.shape == (3, 3, 32, 32)
    assert 0 <= float(ldr1.min()) and float(ldr1.max()) <= 1
    assert not np.array_equal(ldr1.numpy(), ldr2.numpy())
