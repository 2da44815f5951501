"""BatchNorm2d + LeakyReLU vs inplace_abn's InPlaceABN: identical keys and identical outputs."""

from __future__ import annotations

import dataclasses
import sys

import pytest
import torch

from model import PRESETS, build_efficientps
from model.norm import BatchNormAct2d, inplace_abn_available, norm_factory
from tests.conftest import make_target

needs_iabn = pytest.mark.skipif(not inplace_abn_available(), reason="inplace_abn is not installed (optional [iabn] extra)")


def _randomise_norm_stats(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(3)
    for m in model.modules():
        if hasattr(m, "running_mean"):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=gen))  # signs matter: |w| + eps


def _pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    bn = build_efficientps(PRESETS["tiny"])
    _randomise_norm_stats(bn)
    iabn = build_efficientps(dataclasses.replace(PRESETS["tiny"], norm="iabn"))
    iabn.load_state_dict(bn.state_dict())
    return bn, iabn


def test_bn_layer_computes_inplace_abn_formula():
    layer = BatchNormAct2d(5, eps=1e-3).eval()
    _randomise_norm_stats(layer)
    layer.weight.data[0] = -0.7  # the scale is |weight| + eps
    x = torch.randn(2, 5, 4, 4)
    scale = (layer.weight.abs() + 1e-3) / torch.sqrt(layer.running_var + 1e-3)
    y = (x - layer.running_mean[:, None, None]) * scale[:, None, None] + layer.bias[:, None, None]
    assert torch.allclose(layer(x), torch.nn.functional.leaky_relu(y, 0.01), atol=1e-6)
    layer.apply_act = False
    assert torch.allclose(layer(x), y, atol=1e-6) and (layer(x) < 0).any()


@needs_iabn
def test_state_dict_keys_and_shapes_are_identical():
    bn, iabn = _pair()
    assert {k: v.shape for k, v in bn.state_dict().items()} == {k: v.shape for k, v in iabn.state_dict().items()}
    assert any(type(m).__name__ == "InPlaceABN" for m in iabn.modules())


@needs_iabn
def test_eval_outputs_are_identical():
    bn, iabn = _pair()
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        a, b = bn.eval().forward_raw(x), iabn.eval().forward_raw(x)
    assert torch.allclose(a.sem_logits, b.sem_logits, atol=1e-4, rtol=1e-4)
    assert torch.equal(a.sem_logits.argmax(1), b.sem_logits.argmax(1))


@needs_iabn
def test_training_losses_match():
    bn, iabn = _pair()
    images = torch.rand(2, 3, 96, 128)
    targets = [make_target(96, 128, [(10, 20, 60, 70)]), make_target(96, 128, [])]
    torch.manual_seed(1)
    loss_bn = bn.train()(images, targets)
    torch.manual_seed(1)
    loss_iabn = iabn.train()(images, targets)
    for key in loss_bn:
        assert torch.allclose(loss_bn[key], loss_iabn[key], rtol=1e-3, atol=1e-5), key
    sum(loss_iabn.values()).backward()


def test_asking_for_iabn_without_the_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "inplace_abn", None)
    with pytest.raises(ImportError, match="inplace_abn"):
        norm_factory("iabn", 1e-5)


def test_synced_batch_norm_over_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    """Two ranks with half a batch each give the outputs, input gradients, summed weight gradients and
    running statistics of one BatchNormAct2d on the whole batch."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from model.norm import BatchNormAct2d

    worker = Path(__file__).with_name("syncbn_worker.py")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(worker), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    torch.manual_seed(0)
    x_full = (torch.randn(4, 3, 5, 6) * 2 + 1).requires_grad_(True)
    weights = torch.randn(4, 3, 5, 6)
    ref = BatchNormAct2d(3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor([0.5, -1.5, 2.0]))
        ref.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    y = ref.train()(x_full)
    (y * weights).sum().backward()
    assert torch.allclose(torch.cat([r["y"] for r in ranks]), y, atol=1e-5)
    assert torch.allclose(torch.cat([r["x_grad"] for r in ranks]), x_full.grad, atol=1e-4)
    assert torch.allclose(ranks[0]["w_grad"] + ranks[1]["w_grad"], ref.weight.grad, atol=1e-4)
    assert torch.allclose(ranks[0]["b_grad"] + ranks[1]["b_grad"], ref.bias.grad, atol=1e-4)
    for r in ranks:
        assert torch.allclose(r["running_mean"], ref.running_mean, atol=1e-5)
        assert torch.allclose(r["running_var"], ref.running_var, atol=1e-5)
