"""The training loop: ``fit(cfg)``. Plain PyTorch, no callback framework.

- Exact resume: model, optimizer, LR schedule (the plan the run started with), grad scaler, epoch,
  position inside the epoch, iteration, RNG state and best PQ are in every checkpoint; data order and
  augmentation depend only on (seed, epoch, index), never on global state.
- Nothing is lost: ``weights/last.ckpt`` is written atomically after every epoch, and on SIGINT/SIGTERM
  after the current step (with the position inside the epoch); ``weights/best.safetensors`` keeps the
  best validation PQ.
- A non-finite loss skips the step with a warning; ``max_nonfinite`` in a row stop the run.
- torchrun: DDP over all processes (NCCL on GPUs, gloo on CPUs), sharded data, rank 0 evaluates,
  logs and writes files.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from model.config import PRESETS, config_to_dict
from model.device import torch_device
from model.efficientps import EfficientPS, build_efficientps
from model.weights import load_backbone_weights, load_fitting_weights, save_model
from train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from train.config import TrainConfig, dataclass_from_dict, save_config
from train.data import PanopticDataset, collate
from train.datasets import describe_classes, open_split, same_classes
from train.evaluate import evaluate_model
from train.losses import LOSS_KEYS, total_loss
from train.metrics import append_metrics, plot_metrics
from train.sampler import DistInfo, EpochSampler, all_true, setup_distributed
from train.schedule import LRSchedule, describe_schedule, plan_schedule, schedule_notes
from train.transforms import Augment


PLOT_INTERVAL_S = 60.0
"""``results.png`` is redrawn after each evaluation, at the end, and otherwise at most this often."""


class TrainingError(RuntimeError):
    """Training cannot go on (bad device, too many non-finite losses, bad checkpoint)."""


class Reporter(Protocol):
    def message(self, text: str) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None: ...
    def step(self, losses: dict[str, float], lr: float) -> None: ...
    def epoch_end(self) -> None: ...


class QuietReporter:
    def message(self, text: str) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None: ...
    def step(self, losses: dict[str, float], lr: float) -> None: ...
    def epoch_end(self) -> None: ...


@dataclass(frozen=True)
class FitResult:
    run_dir: Path
    epochs_done: int
    best_pq: float
    interrupted: bool
    last_eval: dict | None


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes its step, saves and returns."""

    def __init__(self) -> None:
        self.set = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals stay with the caller
                pass
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.set = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


class Trainer:
    """State of one run; ``fit`` drives it. Separate from ``fit`` so that tests can step it."""

    def __init__(self, cfg: TrainConfig, reporter: Reporter, info: DistInfo, fresh: bool = True) -> None:
        self.cfg, self.reporter, self.info = cfg, reporter, info
        self.device = torch_device(cfg.device, info.local_rank)
        self.amp = cfg.amp
        if self.amp == "fp16" and self.device.type != "cuda":
            reporter.message("fp16 needs CUDA: using bf16 autocast on the CPU instead")
            self.amp = "bf16"
        torch.manual_seed(cfg.seed)
        if cfg.batch_size % info.world_size:
            raise TrainingError(f"batch size {cfg.batch_size} is not divisible by the {info.world_size} processes")
        train_split, self.val_split = open_split(cfg.data, "train", cfg.format), open_split(cfg.data, "val", cfg.format)
        if not same_classes(train_split.classes, self.val_split.classes):
            raise TrainingError(f"{cfg.data}: the train split has {describe_classes(train_split.classes)}, the val "
                                f"split {describe_classes(self.val_split.classes)}; they must be the same")
        self.model = self._build_model(train_split.classes, fresh)
        self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None) if info.enabled else self.model
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == "fp16")
        base = cfg.base_size or _native_size(train_split.samples[0].image)
        augment = Augment(base_size=base, scale_range=cfg.scale_range, crop=cfg.crop, flip=cfg.flip)
        self.dataset = PanopticDataset(train_split.samples, self.model_cfg.classes, augment, cfg.seed)
        self.sampler = EpochSampler(len(self.dataset), cfg.seed, info.rank, info.world_size)
        self.per_rank_batch = cfg.batch_size // info.world_size
        self.steps_per_epoch = math.ceil(-(-len(self.dataset) // info.world_size) / self.per_rank_batch)
        # optimizer steps: every `accumulate` batches, and once more for an epoch's remainder
        self.schedule = LRSchedule(plan_schedule(cfg, -(-self.steps_per_epoch // cfg.accumulate)),
                                   cfg.plateau_patience, cfg.early_stop_patience)
        self.epoch = self.step_in_epoch = self.iteration = self.nonfinite = 0
        self.loss_sums: dict[str, float] = {}  # running sums of this epoch's losses, and their count
        self.loss_count = 0
        self.last_eval: dict | None = None

    def _build_model(self, classes: tuple, fresh: bool) -> EfficientPS:
        """The preset with the dataset's classes; ImageNet backbone and ``init_from`` weights for a fresh run."""
        cfg, info = self.cfg, self.info
        # several processes: batch statistics over all of them (SPEC 7.1: InPlaceABNSync)
        norm = {"iabn": "iabn_sync", "bn": "bn_sync"}.get(cfg.norm, cfg.norm) if info.enabled else cfg.norm
        self.model_cfg = dataclasses.replace(PRESETS[cfg.preset], norm=norm, classes=classes)
        model = build_efficientps(self.model_cfg).to(self.device)
        if cfg.backbone_weights and fresh:
            load_backbone_weights(model.backbone, cfg.backbone_weights)
        if cfg.init_from and fresh:
            self.reporter.message(f"--init-from {cfg.init_from}: {load_fitting_weights(model, cfg.init_from).describe()}")
        return model.to(memory_format=torch.channels_last) if cfg.channels_last else model

    @property
    def weights_dir(self) -> Path:
        return self.cfg.run_dir / "weights"

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "scaler": self.scaler.state_dict(), "epoch": self.epoch,
                "step_in_epoch": self.step_in_epoch, "iteration": self.iteration, "nonfinite": self.nonfinite,
                "loss_sums": self.loss_sums, "loss_count": self.loss_count,
                "rng": rng_state(), "config": dataclasses.asdict(self.cfg), "model_config": config_to_dict(self.model_cfg)}

    def load_state(self, state: dict) -> None:
        started = state["model_config"]["classes"]
        if [c["name"] for c in started] != [c.name for c in self.model_cfg.classes]:
            raise TrainingError(f"{self.cfg.data}: the dataset's classes ({describe_classes(self.model_cfg.classes)}) "
                                f"are not those the run started with ({len(started)} classes)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.iteration, self.nonfinite = state["iteration"], state["nonfinite"]
        self.loss_sums, self.loss_count = state["loss_sums"], state["loss_count"]
        set_rng_state(state["rng"])

    def save_last(self) -> None:
        if self.info.is_main:
            save_checkpoint(self.state(), self.weights_dir / "last.ckpt")

    def loader(self) -> DataLoader:
        self.dataset.epoch = self.epoch
        self.sampler.set_epoch(self.epoch, self.step_in_epoch * self.per_rank_batch)
        # its own generator: creating the iterator must not draw from the global RNG (exact resume)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.epoch)
        return DataLoader(self.dataset, batch_size=self.per_rank_batch, sampler=self.sampler, generator=gen,
                          num_workers=self.cfg.workers, collate_fn=collate, pin_memory=self.device.type == "cuda")

    def train_epoch(self, stop: _StopFlag) -> dict[str, float] | None:
        """One epoch (or its remainder). Returns mean losses, or None if stopped by a signal."""
        self.net.train()
        loader = self.loader()
        if self.step_in_epoch == 0:
            self.loss_sums, self.loss_count = dict.fromkeys([*LOSS_KEYS, "loss"], 0.0), 0
        accumulate = self.cfg.accumulate
        self.reporter.epoch_start(self.epoch, self.cfg.epochs, len(loader))
        for images, targets in loader:
            lr = self.schedule.lr(self.iteration, self.epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            losses, total = self._forward(images, targets)
            self.step_in_epoch += 1  # counts every batch, skipped or not: the resume offset
            if not all_true(bool(torch.isfinite(total)), self.info, self.device):
                self._skip_nonfinite(losses)
            else:
                self.nonfinite = 0
                self.scaler.scale(total / accumulate).backward()
                if self.step_in_epoch % accumulate == 0 or self.step_in_epoch == self.steps_per_epoch:
                    self._optimizer_step()
                values = {k: float(v.detach()) for k, v in losses.items()} | {"loss": float(total.detach())}
                for k, v in values.items():
                    self.loss_sums[k] += v
                self.loss_count += 1
                self.reporter.step(values, lr)
            if stop.set:
                self.save_last()
                return None
        self.reporter.epoch_end()
        means = {k: v / max(self.loss_count, 1) for k, v in self.loss_sums.items()}
        return means | {"lr": self.optimizer.param_groups[0]["lr"]}

    def _forward(self, images: torch.Tensor, targets: list[dict]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        images = images.to(self.device, non_blocking=True)
        if self.cfg.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = [{k: v.to(self.device, non_blocking=True) for k, v in t.items()} for t in targets]
        dtype = torch.float16 if self.amp == "fp16" else torch.bfloat16
        with torch.autocast(self.device.type, dtype=dtype, enabled=self.amp != "none"):
            losses = self.net(images, targets)
        return losses, total_loss(losses)

    def _optimizer_step(self) -> None:
        if self.cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.iteration += 1

    def _skip_nonfinite(self, losses: dict[str, torch.Tensor]) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.nonfinite += 1
        bad = ", ".join(k for k, v in losses.items() if not torch.isfinite(v)) or "total"
        self.reporter.message(f"warning: non-finite loss ({bad}) at iteration {self.iteration}: step skipped")
        if self.nonfinite >= self.cfg.max_nonfinite:
            self.save_last()
            raise TrainingError(f"{self.nonfinite} non-finite losses in a row: stopping (lower --lr, or try --amp none)")

    def evaluate(self) -> dict:
        return evaluate_model(self.model, self.val_split.samples, self.model_cfg.classes, self.device,
                              limit=self.cfg.eval_limit)


def _native_size(path: Path) -> tuple[int, int]:
    from train.data import read_image

    return read_image(path).shape[:2]


def fit(cfg: TrainConfig | None, resume: Path | None = None, reporter: Reporter | None = None) -> FitResult:
    """Train per ``cfg``, or continue the run in checkpoint ``resume`` with the config saved in it."""
    reporter = reporter or QuietReporter()
    state = None
    if resume is not None:
        state = load_checkpoint(resume)
        cfg = dataclass_from_dict(TrainConfig, state["config"])
    if cfg is None:
        raise TrainingError("fit needs a config or a checkpoint to resume")
    info = setup_distributed("cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu")
    trainer = Trainer(cfg, reporter if info.is_main else QuietReporter(), info, fresh=state is None)
    run_dir = cfg.run_dir
    if info.is_main:
        trainer.weights_dir.mkdir(parents=True, exist_ok=True)
    planned = trainer.schedule.plan
    if state is not None:
        trainer.load_state(state)
        trainer.reporter.message(f"resumed {resume} at epoch {trainer.epoch + 1}, step {trainer.step_in_epoch}")
        if trainer.schedule.plan != planned:
            trainer.reporter.message("note: the data or the number of processes changed since the run started; "
                                     "keeping the schedule it started with")
    for line in (describe_schedule(trainer.schedule.plan), *schedule_notes(trainer.schedule.plan)):
        trainer.reporter.message(line)
    if info.is_main:
        save_config(cfg, run_dir / "config.yaml", trainer.schedule.plan.as_dict())
    interrupted, plotted = False, time.time()
    with _StopFlag() as stop:
        while trainer.epoch < cfg.epochs:
            start = time.time()
            means = trainer.train_epoch(stop)
            if means is None:
                interrupted = True
                reporter.message(f"interrupted: saved {trainer.weights_dir / 'last.ckpt'}; continue with --resume")
                break
            trainer.epoch += 1
            trainer.step_in_epoch = 0
            row = {"epoch": trainer.epoch, "iteration": trainer.iteration, **means, "seconds": round(time.time() - start, 2)}
            stop_early = _evaluate_if_due(trainer, row, run_dir, reporter)
            trainer.save_last()
            if info.is_main:
                append_metrics(run_dir / "metrics.csv", row)
                if "pq" in row or time.time() - plotted >= PLOT_INTERVAL_S:  # plotting takes about 0.5 s
                    plot_metrics(run_dir / "metrics.csv", run_dir / "results.png")
                    plotted = time.time()
            if all_true(stop_early, info, trainer.device):
                reporter.message(f"early stop: no better PQ for {cfg.early_stop_patience} evaluations")
                break
    if info.is_main and (run_dir / "metrics.csv").is_file():
        plot_metrics(run_dir / "metrics.csv", run_dir / "results.png")
    if info.enabled:
        dist.barrier()
    best = trainer.schedule.best
    return FitResult(run_dir, trainer.epoch, best if math.isfinite(best) else float("nan"), interrupted, trainer.last_eval)


def _evaluate_if_due(trainer: Trainer, row: dict, run_dir: Path, reporter: Reporter) -> bool:
    cfg = trainer.cfg
    if trainer.epoch % cfg.eval_interval and trainer.epoch != cfg.epochs:
        return False
    if trainer.info.is_main:
        results = trainer.evaluate()
        trainer.last_eval = results
        row.update(pq=results["All"]["pq"], sq=results["All"]["sq"], rq=results["All"]["rq"],
                   pq_things=results["Things"]["pq"], pq_stuff=results["Stuff"]["pq"], miou=results["miou"])
        reporter.message(f"epoch {trainer.epoch}: PQ {100 * row['pq']:.2f}  SQ {100 * row['sq']:.2f}  "
                         f"RQ {100 * row['rq']:.2f}  mIoU {100 * row['miou']:.2f}")
        if trainer.schedule.observe(row["pq"]):
            save_model(trainer.model, trainer.weights_dir / "best.safetensors",
                       extra={"trained_epochs": str(trainer.epoch), "val_pq": f"{row['pq']:.6f}"})
    if trainer.info.enabled:  # every rank needs the schedule's plateau state
        payload = [trainer.schedule.state_dict()]
        dist.broadcast_object_list(payload, src=0)
        trainer.schedule.load_state_dict(payload[0])
    return trainer.schedule.should_stop()
