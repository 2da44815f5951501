"""Two CPU processes under torchrun (gloo): the ranks' weights stay identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch


def test_two_process_ddp_keeps_ranks_identical(synth_root: Path, tmp_path: Path):
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker),
         str(synth_root), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["iteration"] == r1["iteration"] == 2  # 6 images, 2 per rank per step
    for key, value in r0["params"].items():
        assert torch.equal(value, r1["params"][key]), key
    assert r0["synced_norms"] > 50  # --norm bn becomes cross-process BN under DDP
    for key, value in r0["buffers"].items():  # batch statistics over both ranks: the same running stats
        assert torch.allclose(value, r1["buffers"][key], atol=1e-5), key
    assert (tmp_path / "ddp" / "weights" / "last.ckpt").is_file()  # written once, by rank 0
