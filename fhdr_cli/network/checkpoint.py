"""FHDR checkpoints: the shipped one inside the package, or a user's file.

A checkpoint is a plain dict of tensors, numbers and strings, loaded with
``weights_only=True`` so a hostile file cannot run code:
``{"format": "fhdr-checkpoint-1", "state_dict", "config", "training", ["gain_calibration"], ["optimizer", "step"]}``
(``gain_calibration``: the fields of ``fhdr.GainCalibration``; absent = none),
or the authors' release (mukulkhanna/FHDR): a bare ``state_dict`` of their network (authors_model.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from ..io.atomic import atomic_write
from ..errors import WeightsError
from .authors import AuthorsFHDR, is_authors_state_dict
from .fhdr import FHDR, GainCalibration

FORMAT = "fhdr-checkpoint-1"
SHIPPED_NAME = "fhdr.pt"


@dataclass
class Checkpoint:
    model: FHDR  # or its subclass AuthorsFHDR: `model.architecture` says which, "ours" or "authors"
    path: Path
    sha256: str
    training: dict = field(default_factory=dict)  # how the weights were made (see MODEL_CARD.md)
    extra: dict = field(default_factory=dict)  # optimizer state etc., for resuming training


def shipped_weights_path() -> Path:
    return Path(str(resources.files("fhdr_cli.weights").joinpath(SHIPPED_NAME)))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path: Path | None = None) -> Checkpoint:
    """Load `path`, or the shipped weights (checked against their recorded SHA-256)."""
    shipped = path is None
    path = shipped_weights_path() if shipped else Path(path)
    if not path.is_file():
        hint = " (reinstall fhdr)" if shipped else ""
        raise WeightsError(f"{path}: weights file not found{hint}")
    try:
        sha = file_sha256(path)
        if shipped:
            expected = path.with_name(path.name + ".sha256").read_text().split()[0]
            if sha != expected:
                raise WeightsError(f"{path}: SHA-256 mismatch, the shipped weights are corrupt (reinstall fhdr)")
        data = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read weights ({exc.strerror or exc})") from exc
    except WeightsError:
        raise
    except Exception as exc:  # pickle, zip and torch errors all mean "not a usable checkpoint"
        raise WeightsError(f"{path}: not a readable FHDR checkpoint ({type(exc).__name__})") from exc
    if is_authors_state_dict(data):
        try:
            model = AuthorsFHDR.from_state_dict(data)
        except (KeyError, RuntimeError, IndexError, ValueError) as exc:
            raise WeightsError(f"{path}: weights do not match the authors' FHDR architecture") from exc
        return Checkpoint(model=model.eval(), path=path, sha256=sha)  # a bare state dict: no training record
    if not isinstance(data, dict) or data.get("format") != FORMAT or "state_dict" not in data:
        raise WeightsError(f"{path}: not an FHDR checkpoint (expected format '{FORMAT}' "
                           "or the authors' FHDR state_dict)")
    try:
        model = FHDR.from_state_dict(data["state_dict"])
    except (KeyError, RuntimeError, IndexError, ValueError) as exc:
        raise WeightsError(f"{path}: weights do not match the FHDR architecture") from exc
    if "gain_calibration" in data:
        try:
            model.gain_calibration = GainCalibration(**data["gain_calibration"])
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"{path}: unusable gain calibration ({exc})") from exc
    model.eval()
    extra = {k: v for k, v in data.items()
             if k not in ("format", "state_dict", "config", "training", "gain_calibration")}
    return Checkpoint(model=model, path=path, sha256=sha, training=data.get("training", {}), extra=extra)


def save_checkpoint(path: Path, model: FHDR, training: dict, **extra) -> None:
    """Write atomically: a reader (or a crash) never sees half a checkpoint."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    data = {"format": FORMAT, "state_dict": state, "config": model.cfg.as_dict(), "training": training, **extra}
    if not model.gain_calibration.is_identity:
        data["gain_calibration"] = model.gain_calibration.as_dict()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), lambda tmp: torch.save(data, tmp), overwrite=True)
