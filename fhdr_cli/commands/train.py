"""fhdr train: learn FHDR weights from a folder of real HDR images."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import UsageError
from ..simulation.scenes import VALIDATION_SCENES
from ..training.train import StepReport, TrainSettings, train
from . import console, err_console, report_errors


@report_errors
def train_command(
    data: list[Path] = typer.Option(..., "--data", help="Folder of .exr/.hdr scenes (panoramas, cube strips or photos); repeat for several."),
    data_weight: Optional[list[float]] = typer.Option(
        None, "--data-weight", help="Share of the training crops from each --data folder (one per --data, in order; "
                                    "default: every scene alike)."),
    out: Path = typer.Option(Path("runs/fhdr.pt"), "--out", help="Last checkpoint; the best one goes to *.best.pt."),
    iterations: int = typer.Option(4, "--iterations", min=1, max=4, help="Feedback iterations trained (loss averaged over all)."),
    patch: int = typer.Option(64, "--patch", min=16, help="Training crop size in pixels."),
    batch: int = typer.Option(8, "--batch", min=1, help="Training crops per step."),
    val_patch: int = typer.Option(96, "--val-patch", min=16, help="Validation crop size in pixels (4 crops per held-out scene)."),
    lr: float = typer.Option(2e-4, "--lr", help="Peak learning rate (Adam)."),
    lr_decay: str = typer.Option("cosine", "--lr-decay", help="cosine (to lr/20 at the end of --minutes) or none."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    minutes: float = typer.Option(60.0, "--minutes", help="Time budget; a final checkpoint is written at the end."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Checkpoint to continue from (model, optimizer, step)."),
    val_scenes: str = typer.Option(",".join(VALIDATION_SCENES), "--val-scenes", show_default=False,
                                   help=f"Comma-separated scene names held out from training (default: {', '.join(VALIDATION_SCENES)})."),
    checkpoint_minutes: float = typer.Option(5.0, "--checkpoint-minutes", help="Minutes between checkpoints written during the run."),
    vgg_weights: Optional[Path] = typer.Option(None, "--vgg-weights", help="ImageNet VGG19 state dict for the paper's perceptual loss (default: SSIM term)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Processes simulating training batches (default: 0 on CPU, up to 8 on CUDA)."),
    select: str = typer.Option("loss", "--select", help="Keep as best the checkpoint with the lowest validation loss, or HDR-FLIP (flip)."),
    overshoot_weight: float = typer.Option(0.0, "--overshoot-weight", min=0.0,
                                           help="Extra L1 weight on over-bright errors (HDR-FLIP punishes them more)."),
    log_weight: float = typer.Option(0.0, "--log-weight", min=0.0,
                                     help="Weight of L1 on mu-law images at the photo's own scale (shadows and lights)."),
    light_weight: float = typer.Option(0.0, "--light-weight", min=0.0,
                                       help="Weight of the log error of the light from the input's clipped pixels."),
    region_light_weight: float = typer.Option(0.0, "--region-light-weight", min=0.0,
                                              help="Weight of the log error of each clipped region's light "
                                                   "(a lamp and a sky in one view each get their own)."),
    light_probability: float = typer.Option(0.0, "--light-probability", min=0.0, max=1.0,
                                            help="Share of training views given synthetic suns, bulbs and windows."),
    glare_probability: float = typer.Option(0.0, "--glare-probability", min=0.0, max=1.0,
                                            help="Share of training views seen through a lens that scatters "
                                                 "0.03-3 % of the light (renders have no glare of their own)."),
    precision: str = typer.Option("auto", "--precision",
                                  help="bf16 (autocast), fp32, or auto: bf16 on CUDA and on CPUs with native bf16."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the initial weights and the training crops."),
) -> None:
    """Train FHDR on LDR/HDR pairs simulated from real HDR scenes (held-out scenes validate)."""
    for folder in data:
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder (--data takes a folder of .exr/.hdr scenes)")
    settings = TrainSettings(
        data=tuple(data), data_weights=tuple(data_weight) if data_weight else None, out=out, iterations=iterations, patch=patch, batch=batch, val_patch=val_patch, lr=lr, lr_decay=lr_decay, device=device,
        minutes=minutes, resume=resume, val_scenes=tuple(v for v in val_scenes.split(",") if v),
        checkpoint_minutes=checkpoint_minutes, vgg_weights=vgg_weights, threads=threads, workers=workers, seed=seed,
        select=select, overshoot_weight=overshoot_weight, log_weight=log_weight, light_weight=light_weight,
        region_light_weight=region_light_weight, light_probability=light_probability, glare_probability=glare_probability, precision=precision,
    )
    with Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.description}"), TimeRemainingColumn(),
                  console=err_console) as progress:
        task = progress.add_task("", total=minutes * 60)
        average = None

        def on_step(r: StepReport) -> None:
            nonlocal average
            average = r.loss if average is None else 0.98 * average + 0.02 * r.loss
            text = f"step {r.step}  loss {average:.4f}"
            if r.val_loss is not None:
                progress.console.print(f"step {r.step}: val loss {r.val_loss:.4f}, HDR-FLIP {r.val_flip:.4f}"
                                       f"{'  (best, saved)' if r.saved else ''}")
            progress.update(task, completed=r.elapsed_s, description=text)

        best = train(settings, on_step)
    console.print(f"best checkpoint: {best}")
