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
