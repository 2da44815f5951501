"""The learning-rate schedule fits the run: decay epochs, warmup cap, linear lr scaling, notes, resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from train.checkpoint import load_checkpoint
from train.config import resolve_config
from train.loop import fit
from train.metrics import read_metrics
from train.schedule import LRSchedule, SchedulePlan, describe_schedule, plan_schedule, schedule_notes

from tests.train.reporters import InterruptAt, Recorder


def _lrs(plan: SchedulePlan) -> list[list[float]]:
    """The lr of every iteration, per epoch, as the training loop asks for it."""
    schedule = LRSchedule(plan, plateau_patience=3, early_stop_patience=None)
    return [[schedule.lr(e * plan.iters_per_epoch + k, e) for k in range(plan.iters_per_epoch)]
            for e in range(plan.epochs)]


def test_a_40_epoch_official_run_decays_at_30_and_36_and_warms_up_inside_the_run():
    """The issue's run: 48 images, batch 4 (12 iterations per epoch), 40 epochs of the official recipe."""
    plan = plan_schedule(resolve_config("official", epochs=40, batch_size=4), iters_per_epoch=12)
    assert plan.lr_steps == (30, 36) and plan.total_iters == 480
    assert plan.warmup_iters == 48  # the recipe's 500, capped at 10% of the run
    lrs = _lrs(plan)
    flat = [lr for epoch in lrs for lr in epoch]
    assert flat[0] == pytest.approx(0.07 / 3) and flat[47] < 0.07 and flat[48] == pytest.approx(0.07)
    assert all(lr == pytest.approx(0.07) for lr in flat[48 : 30 * 12])  # warmup done, full lr up to epoch 30
    assert lrs[29][-1] == pytest.approx(0.07)
    assert lrs[30] + lrs[35] == [pytest.approx(0.007)] * 24 and lrs[36] + lrs[39] == [pytest.approx(0.0007)] * 24
    line = describe_schedule(plan)
    assert "lr 0.07" in line and "warmup 48 iterations" in line and "epochs 30, 36" in line and "480 iterations" in line


def test_the_full_official_run_is_unchanged():
    plan = plan_schedule(resolve_config("official"), iters_per_epoch=186)  # 2975 images / 16
    assert (plan.lr, plan.warmup_iters, plan.lr_steps, plan.total_iters) == (0.07, 500, (120, 144), 29760)
    assert schedule_notes(plan) == []


def test_linear_lr_scaling_and_the_batch_note():
    plain = plan_schedule(resolve_config("official", epochs=40, batch_size=4), 12)
    assert plain.lr == 0.07 and "--scale-lr scales it linearly to 0.0175" in schedule_notes(plain)[0]
    scaled = plan_schedule(resolve_config("official", epochs=40, batch_size=4, scale_lr=True), 12)
    assert scaled.lr == pytest.approx(0.0175) and schedule_notes(scaled) == []
    assert "0.07 x 4/16" in describe_schedule(scaled)
    accumulated = plan_schedule(resolve_config("official", batch_size=4, accumulate=4, scale_lr=True), 12)
    assert accumulated.total_batch == 16 and accumulated.lr == 0.07
    vr = plan_schedule(resolve_config("vr"), 100)
    assert vr.lr_steps == () and vr.lr_batch == 3 and schedule_notes(vr) == []


def test_explicit_points_beyond_the_run_are_reported():
    plan = plan_schedule(resolve_config("official", epochs=40, batch_size=4, lr_steps=(20, 120, 144)), 12)
    assert plan.lr_steps == (20, 120, 144)
    notes = schedule_notes(plan)
    assert any("epochs 120, 144 lies beyond the run's 40 epochs" in n for n in notes), notes
    early = plan_schedule(resolve_config("official", epochs=40, lr_steps=(2,), warmup_max_share=0.5, lr_batch=16), 12)
    assert any("before the warmup ends" in n for n in schedule_notes(early))
    with pytest.raises(ValueError, match="lr_step_fractions"):
        resolve_config("official", lr_step_fractions=(0.5, 1.5))


def _cfg(root: Path, tmp_path: Path, name: str, **kw):
    values = dict(data=str(root), preset="tiny", batch_size=6, crop=(64, 128), scale_range=(1.0, 1.0), workers=0,
                  eval_limit=1, device="cpu", project=str(tmp_path), name=name)
    return resolve_config("official", **{**values, **kw})


class _LRs(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []

    def step(self, losses, lr) -> None:
        self.lrs.append(lr)


def test_training_follows_the_plan(synth_root: Path, tmp_path: Path):
    """The real loop, 10 epochs of 2 iterations: every step's lr is the plan's, which the start line states."""
    reporter = _LRs()
    result = fit(_cfg(synth_root, tmp_path, "ten", epochs=10, batch_size=3, crop=(32, 64), eval_interval=10, lr=0.01),
                 reporter=reporter)
    plan = plan_schedule(resolve_config("official", epochs=10, batch_size=3, lr=0.01), iters_per_epoch=2)
    assert (plan.lr_steps, plan.warmup_iters) == ((8, 9), 2)  # 0.75 and 0.9 of 10 epochs; 10% of 20 iterations
    assert reporter.lrs == [lr for epoch in _lrs(plan) for lr in epoch]
    assert reporter.lrs[1] < 0.01 and reporter.lrs[2] == 0.01
    assert reporter.lrs[15] == 0.01 and reporter.lrs[16] == pytest.approx(0.001) and reporter.lrs[18] == pytest.approx(1e-4)
    assert describe_schedule(plan) in reporter.messages and any("--scale-lr" in m for m in reporter.messages)
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert SchedulePlan.from_dict(saved["schedule"]) == plan and saved["schedule"]["total_iters"] == 20
    assert resolve_config("official", result.run_dir / "config.yaml").lr_steps is None  # re-resolved per run
    lrs = [float(r["lr"]) for r in read_metrics(result.run_dir / "metrics.csv")]
    assert lrs == [epoch[-1] for epoch in _lrs(plan)]  # what results.png draws
    assert (result.run_dir / "results.png").is_file()


def test_resume_keeps_the_schedule_it_started_with(synth_root: Path, tmp_path: Path):
    """Interrupted after epoch 1 of 2 (3 iterations each), the dataset grows, the run resumes: same plan."""
    data = tmp_path / "data"
    shutil.copytree(synth_root, data)
    first = fit(_cfg(data, tmp_path, "run", epochs=2, batch_size=2, crop=(32, 64), scale_lr=True),
                reporter=InterruptAt(3))
    assert first.interrupted
    ckpt = first.run_dir / "weights" / "last.ckpt"
    started = load_checkpoint(ckpt)["schedule"]["plan"]
    assert started["iters_per_epoch"] == 3 and started["lr"] == pytest.approx(0.07 * 2 / 16)
    for top in ("leftImg8bit", "gtFine"):
        shutil.copytree(data / top / "train" / "synthtown", data / top / "train" / "synthcopy")
    reporter = Recorder()
    assert fit(None, resume=ckpt, reporter=reporter).epochs_done == 2
    assert any("keeping the schedule it started with" in m for m in reporter.messages), reporter.messages
    assert load_checkpoint(ckpt)["schedule"]["plan"] == started
    recorded = yaml.safe_load((first.run_dir / "config.yaml").read_text())["schedule"]
    assert SchedulePlan.from_dict(recorded) == SchedulePlan.from_dict(started)
