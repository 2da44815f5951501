"""Training configuration: recipes, YAML files and overrides, resolved into one frozen dataclass.

Recipes (SPEC section 7):

- ``official``: the authors' config. SGD lr 0.07 for a total batch of 16, momentum 0.9, weight decay 1e-4,
  gradient-norm clip 35, 500-iteration linear warmup from lr/3, x0.1 at epochs 120 and 144 of 160 (kept as
  the fractions 0.75 and 0.9 of the run's epochs), random scale 0.5-2.0, crop 1024x2048, flip 0.5.
- ``vr``: the best-known re-implementation (vincrichard). Adam lr 1.3e-3, weight decay 1e-4, batch 3 at
  512x1024 (plain resize, no random scale), fp16, ReduceLROnPlateau on val PQ (x0.1, patience 3, min lr
  1e-4), early stop after 5 evaluations without improvement, clip 15, warmup 500 from lr/500.

How the schedule fits a run of any length (``train.schedule.plan_schedule``): decay epochs are
``lr_step_fractions`` of ``epochs`` unless ``lr_steps`` gives them; the warmup is at most
``warmup_max_share`` of the run's iterations; ``scale_lr`` scales ``lr`` by the total batch over ``lr_batch``.

Precedence: recipe < YAML file < command-line overrides. The resolved config is saved in the run folder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from model.config import PRESETS, dataclass_from_dict

Amp = Literal["none", "fp16", "bf16"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    ``format``: the dataset layout (``auto``, ``cityscapes``, ``coco-panoptic``); the model's classes are the
    dataset's. ``init_from``: a weights file whose tensors are loaded where their shapes fit.
    ``base_size`` None means the images' own size (1024x2048 for Cityscapes, as in the official recipe).
    ``batch_size`` is the total over all processes; each process takes ``batch_size / world_size``.
    ``lr`` is meant for a total batch (``batch_size * accumulate``) of ``lr_batch``; ``scale_lr`` scales it
    linearly to the run's. ``lr_steps`` None: the decay epochs are ``lr_step_fractions`` of ``epochs``.
    """

    data: str = ""
    format: str = "auto"
    preset: str = "b5-cityscapes"
    recipe: str = "official"
    norm: Literal["bn", "iabn"] = "bn"
    epochs: int = 160
    batch_size: int = 16
    accumulate: int = 1
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.07
    lr_batch: int = 16
    scale_lr: bool = False
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float | None = 35.0
    warmup_iters: int = 500
    warmup_ratio: float = 1 / 3
    warmup_max_share: float = 0.1
    scheduler: Literal["step", "plateau"] = "step"
    lr_steps: tuple[int, ...] | None = None
    lr_step_fractions: tuple[float, ...] = (0.75, 0.9)
    lr_gamma: float = 0.1
    plateau_patience: int = 3
    min_lr: float = 0.0
    early_stop_patience: int | None = None
    base_size: tuple[int, int] | None = None
    scale_range: tuple[float, float] = (0.5, 2.0)
    crop: tuple[int, int] | None = (1024, 2048)
    flip: float = 0.5
    amp: Amp = "none"
    channels_last: bool = False
    workers: int = 4
    device: str = "auto"
    eval_interval: int = 1
    eval_limit: int | None = None
    backbone_weights: str | None = None
    init_from: str | None = None
    max_nonfinite: int = 10
    seed: int = 0
    name: str = "exp"
    project: str = "runs/train"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {', '.join(PRESETS)}")
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; expected one of {', '.join(RECIPES)}")
        for name in ("epochs", "batch_size", "accumulate", "eval_interval", "lr_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.warmup_iters < 0 or not 0 <= self.warmup_max_share <= 1:
            raise ValueError("warmup_iters must be >= 0 and warmup_max_share within 0..1")
        if self.lr_steps is not None and any(s < 1 for s in self.lr_steps):
            raise ValueError(f"lr_steps are epochs from 1 on, got {list(self.lr_steps)}")
        if any(not 0 < f < 1 for f in self.lr_step_fractions):
            raise ValueError(f"lr_step_fractions must lie between 0 and 1, got {list(self.lr_step_fractions)}")

    @property
    def run_dir(self) -> Path:
        return Path(self.project) / self.name


RECIPES: dict[str, dict[str, Any]] = {
    "official": {},
    "vr": {
        "optimizer": "adam", "lr": 1.3e-3, "lr_batch": 3, "batch_size": 3, "grad_clip": 15.0, "warmup_ratio": 1 / 500,
        "scheduler": "plateau", "min_lr": 1e-4, "early_stop_patience": 5, "base_size": (512, 1024),
        "scale_range": (1.0, 1.0), "crop": None, "amp": "fp16", "epochs": 50,
    },
}


def resolve_config(recipe: str = "official", yaml_path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Recipe values, then the YAML file's, then ``overrides`` (None values are ignored).

    Raises:
        ValueError: unknown keys or invalid values, naming them.
    """
    values: dict[str, Any] = {"recipe": recipe, **RECIPES.get(recipe, {})}
    if yaml_path is not None:
        loaded = yaml.safe_load(Path(yaml_path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{yaml_path}: expected a mapping of training options")
        if "recipe" in loaded and loaded["recipe"] != recipe:
            values = {"recipe": loaded["recipe"], **RECIPES.get(loaded["recipe"], {})}
        loaded.pop(SCHEDULE_RECORD, None)  # a run folder's record of its resolved schedule: re-resolved per run
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return dataclass_from_dict(TrainConfig, values)


SCHEDULE_RECORD = "schedule"
"""Key of ``config.yaml`` under which a run records its resolved schedule (ignored when the file is read)."""


def save_config(cfg: TrainConfig, path: Path, schedule: dict[str, Any] | None = None) -> None:
    """Write the config as YAML (tuples as lists), with the run's resolved ``schedule`` for the record."""
    data = dataclasses.asdict(cfg) | ({SCHEDULE_RECORD: schedule} if schedule is not None else {})
    path.write_text(yaml.safe_dump(data, sort_keys=False))

