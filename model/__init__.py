"""The EfficientPS network (Mohan & Valada, IJCV 2021), faithful to the authors' code.

Public API::

    from model import build_efficientps, PRESETS, load_model, save_model, PanopticResult
"""

from model.classes import CITYSCAPES_CLASSES, ClassSpec
from model.config import EfficientPSConfig, PRESETS, config_from_dict, config_to_dict
from model.efficientps import EfficientPS, build_efficientps
from model.fusion import fuse_panoptic
from model.outputs import PanopticResult, RawOutputs, Segment
from model.weights import WeightsFileError, load_model, save_model

__all__ = [
    "CITYSCAPES_CLASSES", "ClassSpec", "EfficientPS", "EfficientPSConfig", "PRESETS", "PanopticResult",
    "RawOutputs", "Segment", "WeightsFileError", "build_efficientps", "config_from_dict", "config_to_dict",
    "fuse_panoptic", "load_model", "save_model",
]
