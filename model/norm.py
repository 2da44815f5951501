"""Norm + activation layers: BatchNorm2d + LeakyReLU(0.01), or inplace_abn's InPlaceABN.

The official EfficientPS uses In-Place Activated BatchNorm (leaky ReLU, slope 0.01) everywhere. Its
eval output equals ``BatchNorm2d`` followed by ``LeakyReLU(0.01)`` (or by nothing for the 'identity'
activation), and both layers have the same state-dict keys, so weights move freely between them.
``inplace_abn`` is optional: it saves training memory but is a custom op (no ONNX export).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from model.config import NormKind

LEAKY_SLOPE = 0.01

NormFactory = Callable[..., nn.Module]
"""``factory(num_features, apply_act=True) -> nn.Module`` (extra keyword arguments are ignored)."""


class _ActMixin:
    apply_act: bool

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, LEAKY_SLOPE) if self.apply_act else x


class BatchNormAct2d(_ActMixin, nn.BatchNorm2d):
    """``BatchNorm2d`` then ``LeakyReLU(0.01)`` (or identity when ``apply_act`` is False)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, apply_act: bool = True):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.apply_act = apply_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._act(super().forward(x))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", act={'leaky_relu' if self.apply_act else 'identity'}"


class SyncBatchNormAct2d(_ActMixin, nn.SyncBatchNorm):
    """``SyncBatchNorm`` then ``LeakyReLU(0.01)``: the plain-PyTorch stand-in for InPlaceABNSync."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, apply_act: bool = True):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.apply_act = apply_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._act(super().forward(x))


def inplace_abn_available() -> bool:
    """True when the optional ``inplace_abn`` package imports."""
    try:
        import inplace_abn  # noqa: F401
    except ImportError:
        return False
    return True


def norm_factory(kind: NormKind, eps: float) -> NormFactory:
    """Make a norm-layer constructor for ``kind`` with the given epsilon.

    The returned function is a plain function (not a partial), which is what timm's EfficientNet
    builder accepts as a "norm + act" layer; it also takes timm's ``inplace``/``device``/``dtype``
    keywords and ignores them.

    Raises:
        ImportError: an inplace_abn kind is asked for and the package is not installed.
    """
    if kind in ("iabn", "iabn_sync"):
        try:
            from inplace_abn import InPlaceABN, InPlaceABNSync
        except ImportError as err:
            raise ImportError(
                f"norm={kind!r} needs the optional inplace_abn package (pip install 'efficientps[iabn]'; "
                "build recipe in the README)"
            ) from err
        abn_cls = InPlaceABN if kind == "iabn" else InPlaceABNSync

        def make_abn(num_features: int, apply_act: bool = True, **_: object) -> nn.Module:
            act = "leaky_relu" if apply_act else "identity"
            return abn_cls(num_features, eps=eps, activation=act, activation_param=LEAKY_SLOPE)

        return make_abn

    bn_cls = BatchNormAct2d if kind == "bn" else SyncBatchNormAct2d

    def make_bn(num_features: int, apply_act: bool = True, **_: object) -> nn.Module:
        return bn_cls(num_features, eps=eps, apply_act=apply_act)

    return make_bn
