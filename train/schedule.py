"""Learning rate: linear warmup, then step decay at epochs (official) or decay on a PQ plateau (vr)."""

from __future__ import annotations

from typing import Any

from train.config import TrainConfig


class LRSchedule:
    """``lr(iteration, epoch)``: mmcv's linear warmup from ``warmup_ratio * lr`` over ``warmup_iters``
    iterations, times ``lr_gamma`` per passed step epoch (``step``) or per plateau of the validation PQ
    (``plateau``: no improvement for ``plateau_patience`` evaluations), never below ``min_lr``."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.plateau_scale = 1.0
        self.best = float("-inf")
        self.bad_evals = 0  # since the best or the last plateau decay
        self.since_best = 0

    def lr(self, iteration: int, epoch: int) -> float:
        cfg = self.cfg
        lr = cfg.lr * self.plateau_scale
        if cfg.scheduler == "step":
            lr *= cfg.lr_gamma ** sum(epoch >= s for s in cfg.lr_steps)
        if iteration < cfg.warmup_iters:
            lr *= cfg.warmup_ratio + (1 - cfg.warmup_ratio) * iteration / cfg.warmup_iters
        return max(lr, cfg.min_lr) if iteration >= cfg.warmup_iters else lr

    def observe(self, pq: float) -> bool:
        """Record a validation PQ; returns True if it is the best so far."""
        if pq > self.best:
            self.best, self.bad_evals, self.since_best = pq, 0, 0
            return True
        self.bad_evals += 1
        self.since_best += 1
        if self.cfg.scheduler == "plateau" and self.bad_evals > self.cfg.plateau_patience:
            self.plateau_scale *= self.cfg.lr_gamma
            self.bad_evals = 0
        return False

    def should_stop(self) -> bool:
        """Early stopping: ``early_stop_patience`` evaluations without a new best PQ."""
        patience = self.cfg.early_stop_patience
        return patience is not None and self.since_best >= patience

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_evals": self.bad_evals,
                "since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_scale, self.best = state["plateau_scale"], state["best"]
        self.bad_evals, self.since_best = state["bad_evals"], state["since_best"]
