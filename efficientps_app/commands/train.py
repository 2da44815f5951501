"""``efficientps train``: train on Cityscapes or any COCO panoptic dataset (or a synthetic stand-in)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.text import Text

from efficientps_app.commands.options import DEVICE_HELP
from efficientps_app.console import stderr
from efficientps_app.errors import EXIT_INTERRUPTED, EfficientPSError
from efficientps_app.progress import PlainProgress


class _SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.2f} it/s" if task.speed else "-- it/s")


class RichReporter:
    """Progress per epoch with the running losses, lr, it/s, ETA and GPU memory; messages above it.

    A Rich bar on a terminal; whole lines every few seconds when stderr is a log file or a pipe
    (:class:`~efficientps_app.progress.PlainProgress`), so a log is never full of cut bars.
    """

    def __init__(self, log_path: Path | None = None) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), _SpeedColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=stderr, disable=not stderr.is_terminal)
        self.task = None
        self.plain: PlainProgress | None = None
        self.log_path = log_path
        import torch

        self._torch = torch
        self.cuda = torch.cuda.is_available()

    def message(self, text: str) -> None:
        self.progress.console.print(text)
        if self.log_path is not None and self.log_path.parent.exists():
            with self.log_path.open("a") as f:
                f.write(text + "\n")

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        description = f"epoch {epoch + 1}/{epochs}"
        if self.progress.disable:
            self.plain = PlainProgress(description, steps, "steps")
            return
        self.progress.start()
        self.task = self.progress.add_task(description, total=steps, info="")

    def step(self, losses: dict[str, float], lr: float) -> None:
        mem = f"  {self._torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if self.cuda else ""
        info = f"loss {losses['loss']:.3f} (sem {losses['loss_semantic']:.3f} mask {losses['loss_mask']:.3f})  lr {lr:.2e}{mem}"
        if self.plain is not None:
            self.plain.update(self.plain.completed + 1, info)
            return
        self.progress.update(self.task, advance=1, info=info)

    def epoch_end(self) -> None:
        if self.plain is not None:
            self.plain.finish()
            self.plain = None
            return
        self.progress.stop()


def _parse_settings(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs, each value read as YAML (numbers, booleans, lists, null)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EfficientPSError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out


def train(
    data: Annotated[Path | None, typer.Option("--data", help="Dataset root: Cityscapes or COCO panoptic "
                                              "(see 'efficientps data').")] = None,
    data_format: Annotated[str | None, typer.Option("--format", help="auto (the default), cityscapes or "
                                                    "coco-panoptic.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file with training options.")] = None,
    recipe: Annotated[str, typer.Option("--recipe", help="official (SGD, 160 epochs) or vr (Adam, 512x1024, fp16).")] = "official",
    preset: Annotated[str | None, typer.Option("--preset", help="Model preset (efficientps model-info).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Total over all processes.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate for the recipe's total batch (16 officially).")] = None,
    scale_lr: Annotated[bool | None, typer.Option("--scale-lr/--no-scale-lr",
                                                 help="Scale the lr linearly by this run's total batch / the recipe's.")] = None,
    crop: Annotated[tuple[int, int] | None, typer.Option("--crop", metavar="H W",
                                                         help="Random crop height and width.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0)] = None,
    device: Annotated[str | None, typer.Option("--device", help=DEVICE_HELP)] = None,
    amp: Annotated[bool | None, typer.Option("--amp/--no-amp", help="Mixed precision (fp16 on CUDA, bf16 on CPU).")] = None,
    eval_interval: Annotated[int | None, typer.Option("--eval-interval", min=1, help="Evaluate every N epochs.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run folder runs/train/NAME.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    norm: Annotated[str | None, typer.Option("--norm", help="bn (plain PyTorch) or iabn (inplace-abn).")] = None,
    backbone_weights: Annotated[str | None, typer.Option("--backbone-weights", help="none or a local ImageNet tf_efficientnet file.")] = None,
    init_from: Annotated[Path | None, typer.Option("--init-from", help="Start from a .safetensors model: every "
                                                   "tensor whose shape fits.")] = None,
    settings: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                      help="Any other option of config.yaml, e.g. --set accumulate=4 (repeatable).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a run: CHECKPOINT, or runs/train/NAME's last.ckpt.")] = False,
    checkpoint: Annotated[Path | None, typer.Argument(help="With --resume: the last.ckpt to continue from.")] = None,
) -> int:
    """Train EfficientPS. Checkpoints every epoch; Ctrl-C saves and stops: continue with --resume [CHECKPOINT]."""
    from train.config import TrainConfig, resolve_config
    from train.loop import fit

    if checkpoint is not None and not resume:
        raise EfficientPSError(f"unexpected argument {checkpoint}: did you mean --resume {checkpoint}?")
    if resume:
        checkpoint = checkpoint or TrainConfig(name=name or "exp").run_dir / "weights" / "last.ckpt"
        cfg = None
    else:
        if data is None and config is None:
            raise EfficientPSError("give --data (a Cityscapes or COCO panoptic folder) or --config, or --resume a run")
        try:
            extra = _parse_settings(settings or [])
            cfg = resolve_config(recipe, config, **extra, data=str(data) if data else None, format=data_format,
                                 init_from=str(init_from) if init_from else None, preset=preset, epochs=epochs,
                                 batch_size=batch_size, lr=lr, scale_lr=scale_lr, crop=crop, workers=workers, device=device,
                                 amp=None if amp is None else ("fp16" if amp else "none"), eval_interval=eval_interval,
                                 name=name, seed=seed, norm=norm,
                                 backbone_weights=None if backbone_weights in (None, "none") else backbone_weights)
        except (ValueError, TypeError, OSError) as err:
            raise EfficientPSError(f"invalid training options: {err}") from err
        if cfg.run_dir.exists() and (cfg.run_dir / "weights" / "last.ckpt").exists():
            raise EfficientPSError(f"{cfg.run_dir} already holds a run: --resume it, or choose another --name")
    reporter = RichReporter(cfg.run_dir / "train.log" if cfg else checkpoint.parent.parent / "train.log")
    result = fit(cfg, resume=checkpoint, reporter=reporter)
    stderr.print(f"{result.epochs_done} epochs in {result.run_dir}; best PQ {100 * result.best_pq:.2f}; "
                 f"weights: {result.run_dir / 'weights' / 'best.safetensors'}")
    return EXIT_INTERRUPTED if result.interrupted else 0
