"""Import of the authors' released EfficientPS checkpoint (mmdetection-1.x / mmcv format, SPEC section 11).

The official state dict maps onto ours by module prefix only (inner names are the same)::

    backbone.*        -> backbone.*             (timm tf_efficientnet names, no SE, no classifier)
    neck.*            -> fpn.*
    semantic_head.*   -> semantic_head.*
    rpn_head.*        -> rpn.head.*
    bbox_head.*       -> roi_heads.box_head.*
    mask_head.*       -> roi_heads.mask_head.*

inplace_abn layers compute ``|weight| + eps`` as their scale and so do ours (:mod:`model.norm`), so every
tensor is copied as it is. ``num_batches_tracked`` buffers are optional (older inplace_abn lacks them).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from model.config import PRESETS
from model.efficientps import EfficientPS, build_efficientps
from model.weights import WeightsFileError, describe_mismatch, state_mismatch

PREFIXES = (
    ("backbone.", "backbone."),
    ("neck.", "fpn."),
    ("semantic_head.", "semantic_head."),
    ("rpn_head.", "rpn.head."),
    ("bbox_head.", "roi_heads.box_head."),
    ("mask_head.", "roi_heads.mask_head."),
)
OFFICIAL_INPUT_SIZE = (1024, 2048)
PROVENANCE = ("the authors' EfficientPS Cityscapes checkpoint (DeepSceneSeg/EfficientPS, GPLv3 for academic use; "
              "commercial use by arrangement with the authors)")


@dataclass(frozen=True)
class ConversionReport:
    """What an import did."""

    preset: str
    mapped: int  # tensors copied into the model
    parameters: int  # parameters of the model
    missing: tuple[str, ...]  # our keys the checkpoint lacked (only with allow_partial)
    unexpected: tuple[str, ...]  # checkpoint keys we had no place for (only with allow_partial)
    mis_shaped: tuple[str, ...]


def _torch_load(data: bytes | Path, trust: bool, name: str) -> object:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return torch.load(source, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        if "GLOBAL" not in text:  # not a refused class: damaged or not a pickle at all
            raise WeightsFileError(f"{name}: not a PyTorch checkpoint (unreadable pickle)") from None
        found = text[text.index("GLOBAL"):].split(" ")[1].rstrip(".,")
        raise WeightsFileError(f"{name}: the checkpoint holds pickled objects other than tensors and plain "
                               f"containers ({found}); if you trust the file, pass --trust-checkpoint") from None
    except Exception as err:
        raise WeightsFileError(f"{name}: not a PyTorch checkpoint ({type(err).__name__}: "
                               f"{' '.join(str(err).split())[:160]})") from None


def read_official_checkpoint(path: str | Path, trust: bool = False) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The state dict of a released ``.pth`` (``{'meta', 'state_dict', 'optimizer'}``) or of the ``.zip`` it
    is distributed in. Returns (state dict, names of the other top-level entries, which are dropped).

    Raises:
        WeightsFileError: missing, unreadable, not a checkpoint, or holding arbitrary pickled objects
            (unless ``trust``).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such checkpoint file")
    checkpoint: object
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            inner = [n for n in names if n.endswith((".pth", ".pt")) and not n.startswith("__MACOSX")]
            if inner:  # the distributed archive: a .pth inside
                checkpoint = _torch_load(archive.read(inner[0]), trust, f"{path}:{inner[0]}")
            elif any(n.endswith("data.pkl") for n in names):  # a .pth saved by torch is itself a zip
                checkpoint = _torch_load(path, trust, str(path))
            else:
                raise WeightsFileError(f"{path}: a zip archive without a .pth checkpoint inside")
    else:
        checkpoint = _torch_load(path, trust, str(path))
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        state, others = checkpoint["state_dict"], tuple(k for k in checkpoint if k != "state_dict")
    elif isinstance(checkpoint, dict) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        state, others = checkpoint, ()
    else:
        raise WeightsFileError(f"{path}: not an mmcv checkpoint (expected a dict with a 'state_dict')")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsFileError(f"{path}: state_dict entry {bad[0]!r} is not a tensor")
    return {k.removeprefix("module."): v for k, v in state.items()}, others


def official_preset(state: dict[str, torch.Tensor]) -> str:
    """``b5-cityscapes`` (plain 3x3 FPN output convs, as in the released config) or ``b5-paper`` (separable)."""
    if "neck.fpn_convs.0.conv.weight" in state:
        return "b5-cityscapes"
    if any(k.startswith("neck.fpn_convs.0.depthwise_conv") for k in state):
        return "b5-paper"
    raise WeightsFileError("the checkpoint has no FPN output convs (neck.fpn_convs.*): not an EfficientPS checkpoint")


def map_key(key: str) -> str | None:
    """Our name of an official key, or None when it belongs to no module we have."""
    for theirs, ours in PREFIXES:
        if key.startswith(theirs):
            return ours + key[len(theirs):]
    return None


def convert_official(state: dict[str, torch.Tensor], allow_partial: bool = False) -> tuple[EfficientPS, ConversionReport]:
    """Build the matching preset and copy every official tensor into it, after checking keys and shapes.

    Raises:
        WeightsFileError: missing, unexpected or mis-shaped tensors (named), unless ``allow_partial``.
    """
    preset = official_preset(state)
    model = build_efficientps(PRESETS[preset])
    ours = model.state_dict()
    mapped = {map_key(k) or k: v for k, v in state.items()}
    found = {k: tuple(v.shape) for k, v in mapped.items()}
    expected = {k: tuple(v.shape) for k, v in ours.items()}
    optional = frozenset(k for k in ours if k.endswith("num_batches_tracked"))
    mismatch = state_mismatch(found, expected, optional)
    missing, unexpected, wrong = mismatch
    if any(mismatch) and not allow_partial:
        raise WeightsFileError(f"the checkpoint does not fit {preset}: "
                               + describe_mismatch(found, expected, mismatch, _official_name)
                               + " (--allow-partial converts anyway)")
    loadable = {k: v.to(ours[k].dtype) for k, v in mapped.items() if k in ours and k not in wrong}
    model.load_state_dict(loadable, strict=False)
    report = ConversionReport(preset, len(loadable), sum(p.numel() for p in model.parameters()), tuple(missing),
                              tuple(_official_name(k) for k in unexpected), tuple(wrong))
    return model.eval(), report


def _official_name(ours: str) -> str:
    for theirs, mine in PREFIXES:
        if ours.startswith(mine):
            return theirs + ours[len(mine):]
    return ours
