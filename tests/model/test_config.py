"""Configs round-trip through plain dicts (weights headers, run folders); invalid ones are refused."""

from __future__ import annotations

import dataclasses
import json

import pytest

from model import CITYSCAPES_CLASSES, PRESETS, config_from_dict, config_to_dict
from model.config import EfficientPSConfig


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_json(name: str):
    cfg = PRESETS[name]
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_cityscapes_classes():
    cfg = PRESETS["b5-cityscapes"]
    assert (cfg.num_classes, cfg.num_stuff, cfg.num_things) == (19, 11, 8)
    assert [c.label_id for c in CITYSCAPES_CLASSES] == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def test_unknown_fields_and_bad_class_lists_are_refused():
    data = config_to_dict(PRESETS["tiny"])
    data["fpn"]["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        config_from_dict(data)
    things_first = CITYSCAPES_CLASSES[11:] + CITYSCAPES_CLASSES[:11]
    with pytest.raises(ValueError):
        EfficientPSConfig(classes=tuple(dataclasses.replace(c, train_id=i) for i, c in enumerate(things_first)))
    with pytest.raises(ValueError, match="norm"):
        EfficientPSConfig(norm="groupnorm")  # type: ignore[arg-type]
