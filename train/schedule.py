"""Learning rate: the schedule of one run, resolved once from the config and the run's length, then applied.

:func:`plan_schedule` makes every schedule decision in one place: the peak lr (linear scaling by the total
batch when asked), the warmup length (capped at a share of the run), and the decay epochs (the recipe's
steps as fractions of the run's epochs unless given explicitly). The resulting :class:`SchedulePlan` is
printed at start, recorded in ``config.yaml`` and stored in every checkpoint, so a resumed run keeps the
schedule it started with. :class:`LRSchedule` applies a plan: linear warmup, then step decay at epochs
(official) or decay on a PQ plateau (vr).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from train.config import TrainConfig


@dataclass(frozen=True)
class SchedulePlan:
    """The resolved learning-rate schedule of a run.

    Attributes:
        lr: peak learning rate, after linear scaling if it was asked for.
        configured_lr: ``lr`` of the config, meant for a total batch of ``lr_batch``.
        total_batch: images per optimizer step (batch size over all processes x accumulation).
        lr_batch: the total batch ``configured_lr`` is meant for.
        scaled: whether ``lr`` was scaled linearly by ``total_batch / lr_batch``.
        warmup_iters: iterations (optimizer steps) of linear warmup from ``warmup_ratio * lr``.
        configured_warmup: ``warmup_iters`` of the config, before the cap.
        warmup_ratio: the warmup's starting fraction of ``lr``.
        scheduler: "step" (decay at ``lr_steps``) or "plateau" (decay when the validation PQ stalls).
        lr_steps: 0-based epochs from which the lr is multiplied by another ``lr_gamma`` ("step" only).
        steps_from_fractions: whether ``lr_steps`` came from the config's fractions of the run.
        lr_gamma: the decay factor.
        min_lr: floor of the lr after warmup.
        epochs: epochs of the run.
        iters_per_epoch: optimizer steps per epoch.
    """

    lr: float
    configured_lr: float
    total_batch: int
    lr_batch: int
    scaled: bool
    warmup_iters: int
    configured_warmup: int
    warmup_ratio: float
    scheduler: str
    lr_steps: tuple[int, ...]
    steps_from_fractions: bool
    lr_gamma: float
    min_lr: float
    epochs: int
    iters_per_epoch: int

    @property
    def total_iters(self) -> int:
        return self.epochs * self.iters_per_epoch

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"total_iters": self.total_iters}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchedulePlan:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if k == "lr_steps" else v for k, v in data.items() if k in names})


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def plan_schedule(cfg: TrainConfig, iters_per_epoch: int) -> SchedulePlan:
    """Resolve ``cfg``'s schedule for a run of ``cfg.epochs`` epochs of ``iters_per_epoch`` optimizer steps.

    - lr: ``cfg.lr``, times ``total batch / cfg.lr_batch`` when ``cfg.scale_lr`` (MMDetection's
      ``auto_scale_lr``, the linear scaling rule).
    - warmup: ``cfg.warmup_iters``, at most ``cfg.warmup_max_share`` of the run's iterations.
    - decay: ``cfg.lr_steps`` if given, else ``cfg.lr_step_fractions`` of ``cfg.epochs`` rounded half up
      (the official 120 and 144 of 160 epochs are 0.75 and 0.9: 30 and 36 of 40).
    """
    total_batch = cfg.batch_size * cfg.accumulate
    factor = total_batch / cfg.lr_batch if cfg.scale_lr else 1.0
    total = cfg.epochs * iters_per_epoch
    warmup = min(cfg.warmup_iters, math.floor(cfg.warmup_max_share * total))
    if cfg.scheduler != "step":
        steps: tuple[int, ...] = ()
    elif cfg.lr_steps is not None:
        steps = tuple(cfg.lr_steps)
    else:
        steps = tuple(sorted({max(1, _round_half_up(f * cfg.epochs)) for f in cfg.lr_step_fractions}))
    return SchedulePlan(
        lr=cfg.lr * factor, configured_lr=cfg.lr, total_batch=total_batch, lr_batch=cfg.lr_batch,
        scaled=cfg.scale_lr and factor != 1.0, warmup_iters=warmup, configured_warmup=cfg.warmup_iters,
        warmup_ratio=cfg.warmup_ratio, scheduler=cfg.scheduler, lr_steps=steps,
        steps_from_fractions=cfg.lr_steps is None, lr_gamma=cfg.lr_gamma, min_lr=cfg.min_lr, epochs=cfg.epochs,
        iters_per_epoch=iters_per_epoch,
    )


def describe_schedule(plan: SchedulePlan) -> str:
    """The one line printed at the start of training: lr, warmup, decay epochs, total iterations."""
    lr = f"lr {plan.lr:.4g}"
    if plan.scaled:
        lr += f" (= {plan.configured_lr:.4g} x {plan.total_batch}/{plan.lr_batch}, scaled by total batch)"
    warmup = f"warmup {plan.warmup_iters} iterations from {plan.warmup_ratio:.3g} x lr"
    if plan.warmup_iters < plan.configured_warmup:
        warmup += f" (the configured {plan.configured_warmup} capped at {plan.warmup_iters / plan.total_iters:.0%} of the run)"
    if plan.scheduler == "plateau":
        decay = f"x{plan.lr_gamma:g} when the validation PQ stalls"
    elif plan.lr_steps:
        decay = f"x{plan.lr_gamma:g} at epochs {', '.join(str(s) for s in plan.lr_steps)}"
        decay += " (the recipe's fractions of the run)" if plan.steps_from_fractions else ""
    else:
        decay = "no decay"
    return (f"schedule: {lr}, {warmup}, {decay}; {plan.total_iters} iterations "
            f"({plan.epochs} epochs x {plan.iters_per_epoch})")


def schedule_notes(plan: SchedulePlan) -> list[str]:
    """Warnings for the start of training: the lr's batch mismatch, and schedule points beyond the run."""
    notes = []
    if plan.total_batch != plan.lr_batch and not plan.scaled:
        scaled = plan.configured_lr * plan.total_batch / plan.lr_batch
        notes.append(f"note: lr {plan.configured_lr:.4g} is meant for a total batch of {plan.lr_batch}; this run's is "
                     f"{plan.total_batch}: --scale-lr scales it linearly to {scaled:.4g}")
    late = [s for s in plan.lr_steps if s >= plan.epochs]
    if late:
        notes.append(f"warning: lr decay at epoch{'s' if len(late) > 1 else ''} {', '.join(map(str, late))} lies "
                     f"beyond the run's {plan.epochs} epochs and is not applied")
    early = [s for s in plan.lr_steps if s * plan.iters_per_epoch < plan.warmup_iters]
    if early:
        notes.append(f"warning: lr decay at epoch {early[0]} comes before the warmup ends "
                     f"(iteration {plan.warmup_iters})")
    return notes


class LRSchedule:
    """``lr(iteration, epoch)``: mmcv's linear warmup from ``warmup_ratio * lr`` over ``warmup_iters``
    iterations, times ``lr_gamma`` per passed step epoch (``step``) or per plateau of the validation PQ
    (``plateau``: no improvement for ``plateau_patience`` evaluations), never below ``min_lr``.

    Args:
        plan: the resolved schedule.
        plateau_patience: evaluations without a better PQ before a plateau decay.
        early_stop_patience: evaluations without a better PQ before training stops; None = never.
    """

    def __init__(self, plan: SchedulePlan, plateau_patience: int, early_stop_patience: int | None) -> None:
        self.plan, self.plateau_patience, self.early_stop_patience = plan, plateau_patience, early_stop_patience
        self.plateau_scale = 1.0
        self.best = float("-inf")
        self.bad_evals = 0  # since the best or the last plateau decay
        self.since_best = 0

    def lr(self, iteration: int, epoch: int) -> float:
        plan = self.plan
        lr = plan.lr * self.plateau_scale * plan.lr_gamma ** sum(epoch >= s for s in plan.lr_steps)
        if iteration < plan.warmup_iters:
            return lr * (plan.warmup_ratio + (1 - plan.warmup_ratio) * iteration / plan.warmup_iters)
        return max(lr, plan.min_lr)

    def observe(self, pq: float) -> bool:
        """Record a validation PQ; returns True if it is the best so far."""
        if pq > self.best:
            self.best, self.bad_evals, self.since_best = pq, 0, 0
            return True
        self.bad_evals += 1
        self.since_best += 1
        if self.plan.scheduler == "plateau" and self.bad_evals > self.plateau_patience:
            self.plateau_scale *= self.plan.lr_gamma
            self.bad_evals = 0
        return False

    def should_stop(self) -> bool:
        """Early stopping: ``early_stop_patience`` evaluations without a new best PQ."""
        patience = self.early_stop_patience
        return patience is not None and self.since_best >= patience

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_evals": self.bad_evals,
                "since_best": self.since_best, "plan": self.plan.as_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the plateau state and, when the state has one (checkpoints since schedules are planned),
        the plan the run started with."""
        self.plateau_scale, self.best = state["plateau_scale"], state["best"]
        self.bad_evals, self.since_best = state["bad_evals"], state["since_best"]
        if "plan" in state:
            self.plan = SchedulePlan.from_dict(state["plan"])
