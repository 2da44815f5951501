"""Model configuration: one frozen dataclass per component, composed into one config, plus presets.

Every default follows the official EfficientPS code (``configs/efficientPS_multigpu_sample.py``); see
``SPEC.md`` in the design notes. Configs round-trip through :func:`config_to_dict` /
:func:`config_from_dict`, which is how they travel inside weights files and run folders.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from model.classes import CITYSCAPES_CLASSES, ClassSpec, validate_classes

NormKind = Literal["bn", "bn_sync", "iabn", "iabn_sync"]
"""Norm layer: plain-PyTorch InPlaceABN equivalent (``bn``), or inplace_abn's InPlaceABN / InPlaceABNSync."""


@dataclass(frozen=True)
class BackboneConfig:
    """EfficientNet backbone (timm ``tf_efficientnet_*`` without squeeze-excitation).

    Attributes:
        variant: "b0".."b7", or "tiny" (a very narrow, shallow network for tests).
        head_channels: Channels of the 1x1 head conv tapped at stride 32; None = timm's
            ``round(1280 * width)`` (2048 for B5).
    """

    variant: str = "b5"
    head_channels: int | None = None


@dataclass(frozen=True)
class FPNConfig:
    """2-way FPN. ``separable_output`` selects the paper's depthwise-separable 3x3 output convs."""

    channels: int = 256
    separable_output: bool = False


@dataclass(frozen=True)
class SemanticHeadConfig:
    """Semantic head (LSFE, DPC, MC). Dilations are (h, w) pairs of the five DPC branches."""

    channels: int = 128
    dpc_dilations: tuple[tuple[int, int], ...] = ((1, 6), (1, 1), (6, 21), (18, 15), (6, 3))
    ohem_fraction: float = 0.25


@dataclass(frozen=True)
class InstanceHeadConfig:
    """Mask R-CNN style instance head: RPN, box head, mask head (SPEC section 5)."""

    anchor_scale: float = 8.0
    anchor_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    rpn_fg_iou: float = 0.7
    rpn_bg_iou: float = 0.3
    rpn_batch_per_image: int = 256
    rpn_positive_fraction: float = 0.5
    rpn_pre_nms_train: int = 2000
    rpn_post_nms_train: int = 2000
    rpn_pre_nms_test: int = 1000
    rpn_post_nms_test: int = 1000
    rpn_nms_thresh: float = 0.7
    roi_iou: float = 0.5
    roi_batch_per_image: int = 256
    roi_positive_fraction: float = 0.25
    box_pool_size: int = 7
    mask_pool_size: int = 14
    fc_channels: int = 1024
    mask_channels: int = 256
    score_thresh: float = 0.5
    nms_thresh: float = 0.5
    detections_per_image: int = 100


@dataclass(frozen=True)
class FusionConfig:
    """Panoptic fusion thresholds (SPEC section 6).

    Attributes:
        mask_logit_scale: The official code multiplies pasted mask logits by 4 before fusion.
        overlap_thresh: An instance whose mask is more than this fraction covered by higher-scoring
            instances is dropped.
        min_stuff_area: Stuff classes with fewer pixels become void. Given at ``stuff_area_reference``
            resolution and scaled with the number of pixels actually fused.
        stuff_area_reference: (H, W) at which ``min_stuff_area`` holds; None = use it as is.
    """

    mask_logit_scale: float = 4.0
    overlap_thresh: float = 0.5
    min_stuff_area: int = 2048
    stuff_area_reference: tuple[int, int] | None = (1024, 2048)


@dataclass(frozen=True)
class EfficientPSConfig:
    """The whole network. ``pixel_mean``/``pixel_std`` are RGB on a 0-255 scale (seamseg's Cityscapes
    statistics in the official code)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    fpn: FPNConfig = field(default_factory=FPNConfig)
    semantic: SemanticHeadConfig = field(default_factory=SemanticHeadConfig)
    instance: InstanceHeadConfig = field(default_factory=InstanceHeadConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    classes: tuple[ClassSpec, ...] = CITYSCAPES_CLASSES
    norm: NormKind = "bn"
    pixel_mean: tuple[float, float, float] = (106.433, 116.617, 119.559)
    pixel_std: tuple[float, float, float] = (65.496, 67.6, 74.123)
    size_divisor: int = 32

    def __post_init__(self) -> None:
        validate_classes(self.classes)
        if self.norm not in typing.get_args(NormKind):
            raise ValueError(f"unknown norm {self.norm!r}; expected one of {typing.get_args(NormKind)}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_things(self) -> int:
        return sum(c.is_thing for c in self.classes)

    @property
    def num_stuff(self) -> int:
        return self.num_classes - self.num_things


def _official(variant: str) -> EfficientPSConfig:
    return EfficientPSConfig(backbone=BackboneConfig(variant=variant))


PRESETS: dict[str, EfficientPSConfig] = {
    "b5-cityscapes": _official("b5"),
    "b5-paper": replace(_official("b5"), fpn=FPNConfig(separable_output=True)),
    **{v: _official(v) for v in ("b0", "b1", "b2", "b3", "b4", "b6", "b7")},
    "tiny": EfficientPSConfig(
        backbone=BackboneConfig(variant="tiny", head_channels=128),
        fpn=FPNConfig(channels=32, separable_output=True),
        semantic=SemanticHeadConfig(channels=32),
        instance=InstanceHeadConfig(
            fc_channels=128, mask_channels=32, rpn_pre_nms_train=500, rpn_post_nms_train=500,
            rpn_pre_nms_test=300, rpn_post_nms_test=300, roi_batch_per_image=128,
        ),
    ),
}
"""Named configurations. ``b5-cityscapes`` is the official code (42.99 M parameters), ``b5-paper`` the
paper's separable FPN output convs (40.90 M), ``b0``..``b7`` the official heads on other widths and
``tiny`` a sub-2 M model for tests and the bundled demo."""


def config_to_dict(cfg: EfficientPSConfig) -> dict[str, Any]:
    """Plain JSON-able dict of a config."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: dict[str, Any]) -> EfficientPSConfig:
    """Rebuild a config from :func:`config_to_dict` output; unknown keys raise ``ValueError``."""
    return dataclass_from_dict(EfficientPSConfig, data)


def dataclass_from_dict(cls: type, data: Any) -> Any:
    """Build dataclass ``cls`` from a plain dict, recursively, coercing lists to tuples; unknown keys raise."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**{k: _coerce(hints[k], v) for k, v in data.items()})


def _coerce(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return dataclass_from_dict(tp, value)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    return value
