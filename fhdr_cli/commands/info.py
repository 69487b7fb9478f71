"""fhdr info: the model, its parameter count, the weights file and how they were trained."""

from __future__ import annotations

import json
import textwrap

import typer

from ..network.checkpoint import load_checkpoint
from . import Weights, console, report_errors

ARCHITECTURES = {
    "ours": "this project's FHDR (log-gain head over the sRGB-decoded photo)",
    "authors": "the authors' FHDR (mukulkhanna/FHDR: tanh head, anchored to the photo)",
}


@report_errors
def info_command(
    weights: Weights = None,
    as_json: bool = typer.Option(False, "--json", help="Print the same as one JSON object on stdout."),
) -> None:
    """Print the model, its parameter count, the weights file and its training summary."""
    ckpt = load_checkpoint(weights)
    model = ckpt.model
    params = sum(p.numel() for p in model.parameters())
    training = ckpt.training
    info = {
        "model": "FHDR (Khan, Khanna & Raman, GlobalSIP 2019)",
        "architecture": model.architecture,
        "config": model.cfg.as_dict(),
        "gain_calibration": None if model.gain_calibration.is_identity else model.gain_calibration.as_dict(),
        "parameters": params,
        "receptive_radius": {n: model.context_radius(n) for n in range(1, model.max_iterations + 1)},
        "weights": str(ckpt.path),
        "sha256": ckpt.sha256,
        "training": {k: v for k, v in training.items() if k != "phases"},
        "phases": [{k: v for k, v in p.items() if not k.endswith("_scenes")} for p in training.get("phases", [])],
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2, default=str))
        return
    lines = [info["model"], f"architecture: {ARCHITECTURES[model.architecture]}", f"parameters: {params:,}"]
    lines += wrap_entries("config:", [f"{k} {v}" for k, v in info["config"].items()])
    if info["gain_calibration"]:
        lines += wrap_entries("log-gain calibration:", [f"{k} {v:g}" for k, v in info["gain_calibration"].items()])
    lines += wrap_entries("receptive radius (px) by iterations:", [f"{n}: {r}" for n, r in info["receptive_radius"].items()])
    lines += [f"weights: {ckpt.path}", f"sha256: {ckpt.sha256}"]
    if not training:
        lines.append("training: none recorded in this file")
    else:
        lines += wrap_entries("training:", [f"{k} {_value(v)}" for k, v in info["training"].items()])
        for i, phase in enumerate(info["phases"], 1):
            lines += wrap_entries(f"  phase {i}:", [f"{k} {_value(v)}" for k, v in phase.items()])
    for line in lines:
        typer.echo(line)


def wrap_entries(label: str, entries: list[str], indent: int = 4) -> list[str]:
    """`label` and its entries, separated by commas and wrapped at the console's width between
    entries, never inside one (rich would cut 'device cpu (x86_64, 2 threads)' in two)."""
    width = max(console.width, 40)
    lines, line = [], label
    for i, entry in enumerate(entries):
        piece = entry + ("," if i < len(entries) - 1 else "")
        if len(line) + 1 + len(piece) > width and line.strip() != label.strip():
            lines.append(line)
            line = " " * indent + piece
        else:
            line += " " + piece
    lines.append(line)
    # an entry longer than a whole line is the one thing wrapped inside (at its spaces)
    return [part for line in lines for part in textwrap.wrap(line, width, subsequent_indent=" " * (indent + 2),
                                                            break_long_words=False, break_on_hyphens=False)]


def _value(v: object) -> str:
    if isinstance(v, dict):  # a calibration's fields, as the file's own calibration line reads
        return "(" + ", ".join(f"{k} {_value(x)}" for k, x in v.items()) + ")"
    return f"{v:.4g}" if isinstance(v, float) else str(v)
