"""Import of the authors' released EfficientPS checkpoints (mmdetection-1.x / mmcv format).

The official state dict maps onto ours by module prefix only (inner names are the same)::

    backbone.*        -> backbone.*             (timm tf_efficientnet names, no SE, no classifier)
    neck.*            -> fpn.*
    semantic_head.*   -> semantic_head.*
    rpn_head.*        -> rpn.head.*
    bbox_head.*       -> roi_heads.box_head.*
    mask_head.*       -> roi_heads.mask_head.*

inplace_abn layers compute ``|weight| + eps`` as their scale and so do ours (:mod:`model.norm`), so every
tensor is copied as it is. ``num_batches_tracked`` buffers are optional (older inplace_abn lacks them).

Two checkpoints were released, Cityscapes and KITTI: the same network with the same 19 Cityscapes classes,
trained on different data, each tested with its own input size (:data:`RELEASES`).
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from model.config import PRESETS, EfficientPSConfig
from model.efficientps import EfficientPS, build_efficientps
from model.weights import WeightsFileError, describe_mismatch, save_model, size_text, state_mismatch

PREFIXES = (
    ("backbone.", "backbone."),
    ("neck.", "fpn."),
    ("semantic_head.", "semantic_head."),
    ("rpn_head.", "rpn.head."),
    ("bbox_head.", "roi_heads.box_head."),
    ("mask_head.", "roi_heads.mask_head."),
)
LICENSE = "GPLv3 for academic use; commercial use by arrangement with the authors"
_NESTING = ("state_dict", "model")  # where mmcv and common wrappers keep the state dict
_WRAPPER = "module."  # DataParallel / DistributedDataParallel


@dataclass(frozen=True)
class OfficialRelease:
    """One released checkpoint and the inference defaults its authors tested it with.

    The test-time thresholds (score 0.5, NMS 0.5, 100 detections, overlap 0.5, ``min_stuff_area`` 2048) and the
    normalisation are the same in both configs and are our presets' defaults; what differs is the input size.

    Attributes:
        name: short name (``cityscapes``, ``kitti``).
        dataset: what the network was trained on, in words.
        input_size: (H, W) in pixels that the test pipeline resizes to, keeping the aspect ratio (mmdet's
            ``img_scale`` with ``keep_ratio=True``). Panoptic fusion runs at that resolution, so
            ``min_stuff_area`` holds there.
        pq: panoptic quality the authors report for it (single scale, validation set), percent.
        config_source: where ``input_size`` and the thresholds were read.
    """

    name: str
    dataset: str
    input_size: tuple[int, int]
    pq: float
    config_source: str

    @property
    def provenance(self) -> str:
        return f"the authors' EfficientPS {self.dataset} checkpoint (DeepSceneSeg/EfficientPS, {LICENSE})"

    def config(self, preset: str) -> EfficientPSConfig:
        """The preset with this release's inference defaults."""
        cfg = PRESETS[preset]
        return dataclasses.replace(cfg, fusion=dataclasses.replace(cfg.fusion, stuff_area_reference=self.input_size))


RELEASES: dict[str, OfficialRelease] = {
    # img_scale=(2048, 1024) in test_pipeline; test_cfg rcnn score_thr 0.5, nms iou_thr 0.5, max_per_img 100,
    # panoptic overlap_thr 0.5, min_stuff_area 2048; PQ from the authors' README table.
    "cityscapes": OfficialRelease("cityscapes", "Cityscapes", (1024, 2048), 64.4,
                                  "DeepSceneSeg/EfficientPS configs/efficientPS_multigpu_sample.py"),
    # The authors publish no KITTI config. OpenDR, which distributes this checkpoint, tests it with
    # img_scale=(1280, 384) (W, H) and a test_cfg and img_norm_cfg identical to the Cityscapes ones (19 classes,
    # 9 box classes). The authors' tools/kitti_demo.py resizes with cv2.resize(img, (384, 1280)), i.e. to a
    # 1280-high, 384-wide image, which contradicts both the config and KITTI's landscape frames: not followed.
    "kitti": OfficialRelease("kitti", "KITTI panoptic", (384, 1280), 42.5,
                             "opendr-eu/opendr efficient_ps/configs/singlegpu_kitti.py"),
}


class UntrustedCheckpointError(WeightsFileError):
    """The checkpoint pickles objects other than tensors and plain containers (loadable only if trusted)."""


@dataclass(frozen=True)
class ConversionReport:
    """What an import did."""

    preset: str
    mapped: int  # tensors copied into the model
    parameters: int  # parameters of the model
    missing: tuple[str, ...]  # our keys the checkpoint lacked (only with allow_partial)
    unexpected: tuple[str, ...]  # checkpoint keys we had no place for (only with allow_partial)
    mis_shaped: tuple[str, ...]
    dropped: tuple[str, ...] = ()  # entries of the file besides the state dict (meta, optimizer, ...)


def _torch_load(data: bytes | Path, trust: bool, name: str) -> object:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return torch.load(source, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        if "GLOBAL" not in text:  # not a refused class: damaged or not a pickle at all
            raise WeightsFileError(f"{name}: not a PyTorch checkpoint (unreadable pickle)") from None
        found = text[text.index("GLOBAL"):].split(" ")[1].rstrip(".,")
        raise UntrustedCheckpointError(f"{name}: the checkpoint holds pickled objects other than tensors and plain "
                                       f"containers ({found}); if you trust the file, pass --trust-checkpoint") from None
    except Exception as err:
        raise WeightsFileError(f"{name}: not a PyTorch checkpoint ({type(err).__name__}: "
                               f"{' '.join(str(err).split())[:160]})") from None


def _load_file(path: Path, trust: bool) -> object:
    """The unpickled content of a ``.pth`` (torch's zip or legacy format) or of the largest ``.pth`` inside a
    distribution ``.zip``."""
    if not zipfile.is_zipfile(path):
        return _torch_load(path, trust, str(path))
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        inner = [i for i in infos if i.filename.endswith((".pth", ".pt")) and not i.filename.startswith("__MACOSX")]
        if inner:  # the distributed archive (efficientPS_cityscapes/model/model.pth)
            best = max(inner, key=lambda i: i.file_size)
            return _torch_load(archive.read(best), trust, f"{path}:{best.filename}")
        if any(i.filename.endswith("data.pkl") for i in infos):  # a .pth saved by torch is itself a zip
            return _torch_load(path, trust, str(path))
    raise WeightsFileError(f"{path}: a zip archive without a .pth checkpoint inside")


def find_state_dict(checkpoint: object, name: str) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The tensors of a checkpoint in any layout mmcv or a wrapper saves: a bare state dict, or one under
    ``state_dict`` or ``model`` (also nested, e.g. ``model.state_dict``), next to any other entries.

    Returns: (state dict with ``module.`` prefixes removed, names of the other entries, which are dropped).

    Raises:
        WeightsFileError: no state dict found (the keys that were found are named), or a non-tensor entry in it.
    """
    node, dropped, trail = checkpoint, [], ""
    for _ in range(len(_NESTING) + 1):
        if not isinstance(node, dict) or not node:
            break
        if all(isinstance(v, torch.Tensor) for v in node.values()):
            return {_strip_wrapper(str(k)): v for k, v in node.items()}, tuple(dropped)
        key = next((k for k in _NESTING if isinstance(node.get(k), dict)), None)
        if key is None:
            bad = next((k for k, v in node.items() if not isinstance(v, torch.Tensor)), None)
            if any(isinstance(v, torch.Tensor) for v in node.values()):
                raise WeightsFileError(f"{name}: state dict entry {trail}{bad!r} is not a tensor "
                                       f"({type(node[bad]).__name__})")
            break
        dropped += [f"{trail}{k}" for k in node if k != key]
        node, trail = node[key], f"{trail}{key}."
    found = ", ".join(map(repr, list(node)[:6])) if isinstance(node, dict) else type(node).__name__
    raise WeightsFileError(f"{name}: not an mmcv checkpoint: no state dict of tensors (found {trail or 'top-level '}"
                           f"entries {found}; expected tensors, or a 'state_dict' or 'model' entry holding them)")


def _strip_wrapper(key: str) -> str:
    while key.startswith(_WRAPPER):
        key = key[len(_WRAPPER):]
    return key


def read_official_checkpoint(path: str | Path, trust: bool = False) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The state dict of a released ``.pth`` (see :func:`find_state_dict` for the layouts taken) or of the
    ``.zip`` it is distributed in. Returns (state dict, names of the other entries, which are dropped).

    Raises:
        WeightsFileError: missing, unreadable, not a checkpoint, or holding arbitrary pickled objects
            (:class:`UntrustedCheckpointError`, unless ``trust``).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such checkpoint file")
    return find_state_dict(_load_file(path, trust), str(path))


def official_preset(state: dict[str, torch.Tensor]) -> str:
    """``b5-cityscapes`` (plain 3x3 FPN output convs, as in the released config) or ``b5-paper`` (separable)."""
    if "neck.fpn_convs.0.conv.weight" in state:
        return "b5-cityscapes"
    if any(k.startswith("neck.fpn_convs.0.depthwise_conv") for k in state):
        return "b5-paper"
    roots = sorted({k.split(".")[0] for k in state})
    raise WeightsFileError(f"the checkpoint has no FPN output convs (neck.fpn_convs.*): not an EfficientPS checkpoint "
                           f"({len(state)} tensors under {', '.join(roots[:8])}{', ...' if len(roots) > 8 else ''})")


def map_key(key: str) -> str | None:
    """Our name of an official key, or None when it belongs to no module we have."""
    for theirs, ours in PREFIXES:
        if key.startswith(theirs):
            return ours + key[len(theirs):]
    return None


def convert_official(state: dict[str, torch.Tensor], allow_partial: bool = False,
                     release: OfficialRelease = RELEASES["cityscapes"]) -> tuple[EfficientPS, ConversionReport]:
    """Build the matching preset with ``release``'s inference defaults and copy every official tensor into it,
    after checking keys and shapes.

    Raises:
        WeightsFileError: missing, unexpected or mis-shaped tensors (named), unless ``allow_partial``.
    """
    preset = official_preset(state)
    model = build_efficientps(release.config(preset))
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


def import_checkpoint(checkpoint: str | Path, output: str | Path, release: OfficialRelease, trust: bool = False,
                      allow_partial: bool = False, extra: dict[str, str] | None = None) -> ConversionReport:
    """Read, convert and save a released checkpoint as our weights file (written atomically), with the release's
    input size and provenance in its header.

    Raises:
        WeightsFileError: see :func:`read_official_checkpoint` and :func:`convert_official`.
    """
    checkpoint = Path(checkpoint)
    state, dropped = read_official_checkpoint(checkpoint, trust=trust)
    model, report = convert_official(state, allow_partial=allow_partial, release=release)
    save_model(model, output, extra={"input_size": size_text(release.input_size), "provenance": release.provenance,
                                     "release": release.name, "imported_from": checkpoint.name, **(extra or {})})
    return dataclasses.replace(report, dropped=dropped)


def _official_name(ours: str) -> str:
    for theirs, mine in PREFIXES:
        if ours.startswith(mine):
            return theirs + ours[len(mine):]
    return ours
