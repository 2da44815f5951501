"""Training loop: exact resume after an interruption, non-finite losses, run folder contents."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.weights import load_model
from train.checkpoint import load_checkpoint
from train.config import resolve_config
from train.loop import TrainingError, fit
from train.metrics import read_metrics

from tests.train.reporters import InterruptAt


def _cfg(root: Path, tmp_path: Path, name: str, **kw):
    values = dict(data=str(root), preset="tiny", epochs=2, batch_size=2, crop=(96, 160), scale_range=(0.75, 1.25),
                  workers=0, lr=0.01, warmup_iters=3, eval_interval=1, eval_limit=1, device="cpu",
                  project=str(tmp_path), name=name)
    return resolve_config("official", **{**values, **kw})


@pytest.mark.parametrize(("interrupt_after", "position"), [(4, (1, 1)), (3, (0, 3))])
def test_interrupted_and_resumed_training_ends_with_the_same_weights(
    synth_root: Path, tmp_path: Path, interrupt_after: int, position: tuple[int, int]
):
    """6 images, batch 2: 3 steps per epoch. Interrupt inside epoch 2, or right after epoch 1's last step."""
    straight = fit(_cfg(synth_root, tmp_path, "straight"))
    assert straight.epochs_done == 2 and not straight.interrupted

    reporter = InterruptAt(interrupt_after)
    first = fit(_cfg(synth_root, tmp_path, "resumed"), reporter=reporter)
    assert first.interrupted and any("interrupted" in m for m in reporter.messages)
    ckpt = tmp_path / "resumed" / "weights" / "last.ckpt"
    state = load_checkpoint(ckpt)
    assert (state["epoch"], state["step_in_epoch"]) == position
    second = fit(None, resume=ckpt)
    assert second.epochs_done == 2 and not second.interrupted

    a = load_checkpoint(tmp_path / "straight" / "weights" / "last.ckpt")["model"]
    b = load_checkpoint(ckpt)["model"]
    for key in a:  # tolerance: 1e-6 absolute (identical CPU op order; exact equality expected in practice)
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    rows, straight_rows = (read_metrics(tmp_path / name / "metrics.csv") for name in ("resumed", "straight"))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for row, ref in zip(rows, straight_rows):  # epoch means survive the interruption
        assert float(row["loss"]) == pytest.approx(float(ref["loss"]), rel=1e-5)


def test_run_folder_contents(synth_root: Path, tmp_path: Path):
    result = fit(_cfg(synth_root, tmp_path, "run", epochs=1))
    run = result.run_dir
    for name in ("config.yaml", "metrics.csv", "results.png", "weights/last.ckpt", "weights/best.safetensors"):
        assert (run / name).is_file(), name
    row = read_metrics(run / "metrics.csv")[0]
    assert float(row["loss_semantic"]) > 0 and row["pq"] != "" and float(row["lr"]) > 0
    model = load_model(run / "weights" / "best.safetensors")
    assert model.cfg.fpn.channels == 32  # the tiny preset
    assert resolve_config("official", run / "config.yaml").crop == (96, 160)


def test_non_finite_losses_are_skipped_then_stop_the_run(synth_root: Path, tmp_path: Path, monkeypatch):
    import train.loop

    monkeypatch.setattr(train.loop, "total_loss", lambda losses: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(TrainingError, match="2 non-finite losses in a row"):
        fit(_cfg(synth_root, tmp_path, "nan", max_nonfinite=2))


def test_recipes_and_overrides():
    vr = resolve_config("vr", preset="tiny", lr=0.5)
    assert (vr.optimizer, vr.batch_size, vr.amp, vr.scheduler, vr.lr) == ("adam", 3, "fp16", "plateau", 0.5)
    official = resolve_config("official")
    assert (official.lr, official.lr_batch, official.epochs, official.grad_clip) == (0.07, 16, 160, 35.0)
    assert (official.lr_steps, official.lr_step_fractions) == (None, (0.75, 0.9))  # 120 and 144 of 160
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        resolve_config("official", bogus=1)
