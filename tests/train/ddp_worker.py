"""Run by tests/train/test_ddp.py under torchrun: a short DDP training; each rank saves its parameters."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from train.config import resolve_config  # noqa: E402
from train.loop import Trainer, fit  # noqa: E402

if __name__ == "__main__":
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = resolve_config("official", data=str(root), preset="tiny", epochs=1, batch_size=4, crop=(96, 160), workers=0,
                         lr=0.01, warmup_iters=2, eval_limit=1, device="cpu", project=str(out), name="ddp")
    captured: list[Trainer] = []
    original = Trainer.__init__

    def keep(self, *args, **kwargs):  # keep a handle on the trainer to read this rank's model afterwards
        original(self, *args, **kwargs)
        captured.append(self)

    Trainer.__init__ = keep  # type: ignore[method-assign]
    result = fit(cfg)
    rank = dist.get_rank()
    trainer = captured[0]
    synced = sum(type(m).__name__ == "SyncBatchNormAct2d" for m in trainer.model.modules())
    torch.save({"params": {k: v.detach() for k, v in trainer.model.named_parameters()}, "synced_norms": synced,
                "buffers": {k: v.detach() for k, v in trainer.model.named_buffers() if "running" in k},
                "iteration": trainer.iteration, "world": dist.get_world_size(), "epochs": result.epochs_done},
               out / f"rank{rank}.pt")
    dist.destroy_process_group()
