"""Weights files: ``.safetensors`` with the model config and class metadata in the header.

safetensors stores raw tensors and a JSON header, so loading never unpickles (no code runs). Every key
and shape is checked before anything is loaded; problems raise :class:`WeightsFileError` with a
one-line message that names the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from model.config import PRESETS, EfficientPSConfig, NormKind, config_from_dict, config_to_dict
from model.efficientps import EfficientPS, build_efficientps

FORMAT = "efficientps"
FORMAT_VERSION = "1"


class WeightsFileError(ValueError):
    """A weights file is missing, unreadable, not ours, truncated or does not fit the model."""


def preset_name(cfg: EfficientPSConfig) -> str:
    """The preset whose network a config builds, or "custom". The norm layer kind (they compute the same),
    the class list (the data's) and the panoptic fusion settings (inference defaults, e.g. of the KITTI
    release) do not count."""
    same = (name for name, p in PRESETS.items()
            if dataclasses.replace(p, norm=cfg.norm, fusion=cfg.fusion, classes=cfg.classes) == cfg)
    return next(same, "custom")


def save_model(model: EfficientPS, path: str | Path, half: bool = False, extra: dict[str, str] | None = None) -> Path:
    """Write ``model``'s weights and config to ``path`` atomically (no half-written file on failure).

    Args:
        model: the network.
        path: destination, conventionally ``*.safetensors``.
        half: store floating-point tensors as fp16 (they are loaded back as fp32).
        extra: further string metadata (e.g. training provenance).
    """
    path = Path(path)
    state = {}
    for key, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        state[key] = t.half() if half and t.is_floating_point() else t
    try:
        version = metadata.version("efficientps")
    except metadata.PackageNotFoundError:
        version = "unknown"
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(config_to_dict(model.cfg)),
        "preset": preset_name(model.cfg),
        "efficientps_version": version,
        **(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The header metadata of an EfficientPS weights file.

    Raises:
        WeightsFileError: missing, unreadable, not safetensors, or not an EfficientPS weights file.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for malformed headers
        raise WeightsFileError(f"{path}: not a readable .safetensors weights file ({_short(err)})") from err
    if meta.get("format") != FORMAT:
        raise WeightsFileError(f"{path}: a safetensors file, but not an EfficientPS weights file (no config header)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise WeightsFileError(f"{path}: weights format version {meta.get('format_version')!r} is not supported")
    return meta


def size_text(size: tuple[int, int]) -> str:
    """(H, W) as the ``"HxW"`` text that weights and ONNX metadata store."""
    return f"{int(size[0])}x{int(size[1])}"


def parse_size(text: str | None, what: str) -> tuple[int, int] | None:
    """The (H, W) of an ``"HxW"`` metadata value; None for None.

    Raises:
        WeightsFileError: anything else (``what`` names the file and key in the message).
    """
    if text is None:
        return None
    h, sep, w = str(text).partition("x")
    if not (sep and h.isdigit() and w.isdigit() and int(h) > 0 and int(w) > 0):
        raise WeightsFileError(f"{what}: {text!r} is not a size HxW")
    return int(h), int(w)


def preferred_size(path: str | Path) -> tuple[int, int] | None:
    """The (H, W) a weights file was made for (its ``input_size``: the official model's 1024x2048), if any."""
    return parse_size(read_metadata(path).get("input_size"), f"{path}: input_size")


def load_config(path: str | Path) -> EfficientPSConfig:
    """The model config stored in a weights file (reads only the header)."""
    meta = read_metadata(path)
    try:
        return config_from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as err:
        raise WeightsFileError(f"{path}: invalid model config in header ({_short(err)})") from err


def load_model(
    path: str | Path, device: str | torch.device = "cpu", preset: str | None = None, norm: NormKind | None = "bn"
) -> EfficientPS:
    """Build the network described by a weights file and load its tensors (eval mode).

    Args:
        path: a file written by :func:`save_model`.
        device: where the model goes.
        preset: if given, the file must hold that preset.
        norm: norm layer kind to build. The default, the plain-PyTorch layer, gives the same outputs as
            inplace_abn's and needs no extension, so weights trained with ``iabn`` load anywhere;
            None keeps the kind stored in the file.

    Raises:
        WeightsFileError: see :func:`read_metadata`, a preset mismatch, or missing/unexpected/mis-shaped
            tensors.
    """
    cfg = load_config(path)
    if preset is not None and preset_name(cfg) != preset:
        raise WeightsFileError(f"{path}: holds preset {preset_name(cfg)!r}, not {preset!r}")
    if norm is not None:
        cfg = dataclasses.replace(cfg, norm=norm)
    model = build_efficientps(cfg)
    load_weights_into(model, path)
    return model.to(device).eval()


def load_weights_into(model: EfficientPS, path: str | Path) -> None:
    """Load a weights file into an existing model after checking every key and shape.

    Raises:
        WeightsFileError: unreadable file, or tensors that do not fit ``model``.
    """
    path = Path(path)
    meta = read_metadata(path)
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            check_state_shapes(shapes, {k: tuple(v.shape) for k, v in expected.items()}, f"{path} ({meta.get('preset')})")
            state = {k: f.get_tensor(k).to(expected[k].dtype) for k in shapes}
    except WeightsFileError:
        raise
    except Exception as err:
        raise WeightsFileError(f"{path}: cannot read tensors, the file may be truncated ({_short(err)})") from err
    model.load_state_dict(state)


@dataclass(frozen=True)
class PartialLoad:
    """What :func:`load_fitting_weights` did: tensor names, sorted.

    Attributes:
        loaded: taken from the file.
        mismatched: in both, with other shapes (kept as initialised): name -> (file shape, model shape).
        missing: in the model only (kept as initialised).
        unexpected: in the file only (ignored).
    """

    loaded: list[str]
    mismatched: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    missing: list[str]
    unexpected: list[str]

    def describe(self, most: int = 12) -> str:
        """'loaded 300 of 306 tensors; kept as initialised: a [8, 32] (file [19, 32]), ...' in one line."""
        total = len(self.loaded) + len(self.mismatched) + len(self.missing)
        kept = [f"{k} {list(m)} (file {list(f)})" for k, (f, m) in self.mismatched.items()]
        kept += [f"{k} (not in the file)" for k in self.missing]
        text = f"loaded {len(self.loaded)} of {total} tensors"
        if kept:
            more = f", +{len(kept) - most} more" if len(kept) > most else ""
            text += f"; kept as initialised: {', '.join(kept[:most])}{more}"
        if self.unexpected:
            text += f"; {len(self.unexpected)} tensors of the file have no place here (e.g. {self.unexpected[0]})"
        return text


def load_fitting_weights(model: EfficientPS, path: str | Path) -> PartialLoad:
    """Load every tensor of a weights file whose name and shape fit ``model`` (``train --init-from``):
    a model with another class list keeps its own class-sized layers as initialised.

    Raises:
        WeightsFileError: see :func:`read_metadata`, or tensors that cannot be read.
    """
    path = Path(path)
    read_metadata(path)
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            missing, unexpected, wrong = state_mismatch(shapes, {k: tuple(v.shape) for k, v in expected.items()})
            fitting = sorted(set(shapes) & set(expected) - set(wrong))
            state = {k: f.get_tensor(k).to(expected[k].dtype) for k in fitting}
    except Exception as err:
        raise WeightsFileError(f"{path}: cannot read tensors, the file may be truncated ({_short(err)})") from err
    model.load_state_dict(state, strict=False)
    return PartialLoad(fitting, {k: (shapes[k], tuple(expected[k].shape)) for k in wrong}, missing, unexpected)


def load_backbone_weights(backbone: torch.nn.Module, path: str | Path) -> int:
    """Load ImageNet EfficientNet weights from a local file into the backbone (nothing is downloaded).

    Accepts timm's ``tf_efficientnet_b*`` checkpoints (``.pth``/``.bin`` state dicts, loaded with
    ``weights_only=True``, or ``.safetensors``). Squeeze-excitation and classifier tensors are dropped, as
    the official code does (``strict=False``); every backbone tensor must be present with the right shape.
    The values are loaded as they are, also into the norm layers (the official code did the same).

    Returns: the number of tensors loaded.

    Raises:
        WeightsFileError: unreadable file, or tensors that do not fit this backbone width.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: backbone weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    except Exception as err:
        raise WeightsFileError(f"{path}: not a readable weights file ({_short(err)})") from err
    if not isinstance(state, dict):
        raise WeightsFileError(f"{path}: expected a state dict of tensors")
    state = {k.removeprefix("backbone."): v for k, v in state.items()
             if ".se." not in k and not k.startswith("classifier")}
    expected = backbone.state_dict()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked") or k in expected}
    check_state_shapes({k: tuple(v.shape) for k, v in state.items()},
                       {k: tuple(v.shape) for k, v in expected.items() if not k.endswith("num_batches_tracked")
                        or k in state}, f"{path} (backbone)")
    backbone.load_state_dict(state, strict=False)
    return len(state)


def state_mismatch(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]],
                   optional: frozenset[str] = frozenset()) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped) keys of ``found`` against ``expected``, sorted; keys in
    ``optional`` may be missing."""
    missing = sorted(set(expected) - set(found) - optional)
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(found) & set(expected) if tuple(found[k]) != tuple(expected[k]))
    return missing, unexpected, wrong


def describe_mismatch(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]],
                      mismatch: tuple[list[str], list[str], list[str]], name=lambda key: key) -> str:
    """One line naming an example of each kind of problem (``name`` renders a key for the user)."""
    missing, unexpected, wrong = mismatch
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {name(missing[0])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {name(unexpected[0])})")
    if wrong:
        k = wrong[0]
        problems.append(f"{len(wrong)} mis-shaped (e.g. {name(k)}: {list(found[k])} vs {list(expected[k])})")
    return "; ".join(problems)


def check_state_shapes(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]], what: str) -> None:
    """Raise :class:`WeightsFileError` naming missing, unexpected and mis-shaped tensors."""
    mismatch = state_mismatch(found, expected)
    if any(mismatch):
        raise WeightsFileError(f"{what}: tensors do not fit the model: " + describe_mismatch(found, expected, mismatch))


def _short(err: Exception) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."

