"""Norm + activation layers with In-Place Activated BatchNorm semantics, in plain PyTorch or inplace_abn.

The official EfficientPS uses inplace_abn's ``InPlaceABN`` (leaky ReLU, slope 0.01) everywhere. Its
affine scale is ``|weight| + eps``, not ``weight`` (inplace_abn 1.x keeps the scale positive so the
activation can be inverted in the backward pass):

    y = act((x - mean) / sqrt(var + eps) * (|weight| + eps) + bias)

:class:`BatchNormAct2d` computes exactly this with ``F.batch_norm``, so it and ``InPlaceABN`` have the same
state-dict keys and the same outputs, and weights trained with either (the authors' checkpoint included)
load into the other unchanged. ``inplace_abn`` is optional: it saves training memory but is a custom op
(no ONNX export).
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


class BatchNormAct2d(nn.BatchNorm2d):
    """InPlaceABN in plain PyTorch: BatchNorm with scale ``|weight| + eps``, then LeakyReLU(0.01) or identity."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, apply_act: bool = True):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.apply_act = apply_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.num_batches_tracked.add_(1)
        y = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight.abs() + self.eps, self.bias,
            self.training, self.momentum, self.eps,
        )
        return F.leaky_relu(y, LEAKY_SLOPE) if self.apply_act else y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", act={'leaky_relu' if self.apply_act else 'identity'}"


class SyncBatchNormAct2d(BatchNormAct2d):
    """:class:`BatchNormAct2d` with batch statistics over all processes of a ``torch.distributed`` run.

    torch's ``SyncBatchNorm`` cannot use the ``|weight| + eps`` scale, so the statistics are reduced here:
    one differentiable all-reduce of (sum, sum of squares, count) per layer. With one process, or outside
    training, it is exactly :class:`BatchNormAct2d`; the state-dict keys are the same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        self.num_batches_tracked.add_(1)
        xf = x.float()
        c = x.shape[1]
        count = xf.new_full((1,), x.numel() / c)
        stats = all_reduce(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))  # summed over ranks
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp(min=0)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1).clamp(min=1), self.momentum)
        scale = (self.weight.abs() + self.eps) / torch.sqrt(var + self.eps)
        y = (xf - mean.view(1, c, 1, 1)) * scale.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        y = y.to(x.dtype)
        return F.leaky_relu(y, LEAKY_SLOPE) if self.apply_act else y


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

    layer = SyncBatchNormAct2d if kind == "bn_sync" else BatchNormAct2d

    def make_bn(num_features: int, apply_act: bool = True, **_: object) -> nn.Module:
        return layer(num_features, eps=eps, apply_act=apply_act)

    return make_bn
