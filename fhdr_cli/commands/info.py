"""fhdr info: the model, its parameter count, the weights file and how they were trained."""

from __future__ import annotations

import json

import typer

from ..network.fhdr import receptive_radius
from ..network.checkpoint import load_checkpoint
from . import Weights, console, report_errors


@report_errors
def info_command(weights: Weights = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the model, its parameter count, the weights file and its training summary."""
    ckpt = load_checkpoint(weights)
    model = ckpt.model
    params = sum(p.numel() for p in model.parameters())
    training = ckpt.training
    info = {
        "model": "FHDR (Khan, Khanna & Raman, GlobalSIP 2019)",
        "config": model.cfg.as_dict(),
        "parameters": params,
        "receptive_radius": {n: receptive_radius(n, model.cfg) for n in range(1, model.max_iterations + 1)},
        "weights": str(ckpt.path),
        "sha256": ckpt.sha256,
        "training": {k: v for k, v in training.items() if k != "phases"},
        "phases": [{k: v for k, v in p.items() if not k.endswith("_scenes")} for p in training.get("phases", [])],
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2, default=str))
        return
    console.print(f"[bold]{info['model']}[/bold]")
    console.print(f"parameters: {params:,}   config: {info['config']}")
    console.print(f"receptive radius (px) by iterations: {info['receptive_radius']}")
    console.print(f"weights: {ckpt.path}\nsha256: {ckpt.sha256}", markup=False)
    console.print(f"training: {info['training']}", markup=False)
    for i, phase in enumerate(info["phases"], 1):
        console.print(f"  phase {i}: {phase}", markup=False)
