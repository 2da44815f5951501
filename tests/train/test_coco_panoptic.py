"""COCO panoptic datasets: class lists, targets (crowd, void), reading and writing, conversion, synthetic data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.classes import CITYSCAPES_CLASSES, classes_from_categories
from train.convert import convert_dataset
from train.data import PanopticDataset, read_ground_truth, read_id_image, targets_from_panoptic
from train.datasets import detect_format, open_split
from train.errors import DatasetError
from train.panoptic_io import PanopticSegment, eval_categories, id_to_rgb
from train.synth_coco import parse_classes, write_synthetic_coco


def test_class_list_from_categories():
    cats = [{"id": 1, "name": "boat", "isthing": 1, "color": [1, 2, 3]}, {"id": 7, "name": "sea", "isthing": 0},
            {"id": 3, "name": "buoy", "isthing": 1}, {"id": 9, "name": "sky", "isthing": 0, "color": [9, 9, 9]}]
    classes = classes_from_categories(cats)
    assert [(c.name, c.train_id, c.label_id, c.is_thing) for c in classes] == [
        ("sea", 0, 7, False), ("sky", 1, 9, False), ("boat", 2, 1, True), ("buoy", 3, 3, True)]
    assert classes[1].color == (9, 9, 9) and classes[2].color == (1, 2, 3)
    assert len({classes[0].color, classes[3].color, (9, 9, 9), (1, 2, 3)}) == 4  # made-up colours differ
    assert classes_from_categories(eval_categories()) == CITYSCAPES_CLASSES  # the converted Cityscapes classes
    with pytest.raises(ValueError, match="category ids repeat"):
        classes_from_categories(cats + [{"id": 7, "name": "again", "isthing": 0}])
    with pytest.raises(ValueError, match="at least one stuff and one thing"):
        classes_from_categories([c for c in cats if c["isthing"]])


def test_targets_follow_the_panoptic_rules():
    """Void (id 0), an id the segments do not list, a category outside the class list, a crowd region."""
    classes = classes_from_categories([{"id": 5, "name": "sea", "isthing": 0}, {"id": 1, "name": "boat", "isthing": 1}])
    ids = np.array([[0, 5, 5, 5],
                    [7, 1000, 1000, 5],
                    [1001, 1001, 2000, 9]])
    segments = [PanopticSegment(5, 5, 4, (0, 0, 0, 0)), PanopticSegment(1000, 1, 2, (0, 0, 0, 0)),
                PanopticSegment(1001, 1, 2, (0, 0, 0, 0), iscrowd=1), PanopticSegment(9, 42, 1, (0, 0, 0, 0))]
    semantic, masks, labels = targets_from_panoptic(ids, segments, classes)
    assert semantic.tolist() == [[255, 0, 0, 0], [255, 1, 1, 0], [1, 1, 255, 255]]  # crowd keeps its class
    assert labels.tolist() == [1] and masks.shape == (1, 3, 4) and masks[0].sum() == 2 and masks[0, 1, 1:3].all()


def test_converted_cityscapes_trains_and_scores_as_the_original(synth_root: Path, tmp_path: Path):
    convert_dataset(synth_root, tmp_path / "coco")
    assert detect_format(tmp_path / "coco") == "coco-panoptic" and detect_format(synth_root) == "cityscapes"
    native, coco = open_split(synth_root, "train"), open_split(tmp_path / "coco", "train")
    assert coco.classes == native.classes == CITYSCAPES_CLASSES and len(coco.samples) == len(native.samples) == 6
    for a, b in zip(native.samples, coco.samples):
        ids_a, seg_a = read_ground_truth(a)
        ids_b, seg_b = read_ground_truth(b)
        assert np.array_equal(ids_a, ids_b) and seg_a == seg_b
        semantic, masks, labels = targets_from_panoptic(ids_a, seg_a, CITYSCAPES_CLASSES)
        lut = np.full(256, 255, np.uint8)  # the semantic target as the labelIds give it
        for c in CITYSCAPES_CLASSES:
            lut[c.label_id] = c.train_id
        label_ids = read_id_image(a.panoptic.with_name(a.panoptic.name.replace("instanceIds", "labelIds")))
        assert np.array_equal(semantic, lut[label_ids])
        inst = read_id_image(a.panoptic)
        assert len(masks) == len({int(i) for i in np.unique(inst) if i >= 1000 and lut[i // 1000] != 255})
    item_a, item_b = PanopticDataset(native.samples, CITYSCAPES_CLASSES)[0], PanopticDataset(coco.samples, CITYSCAPES_CLASSES)[0]
    assert all(np.array_equal(item_a[1][k], item_b[1][k]) for k in item_a[1]) and np.array_equal(item_a[0], item_b[0])
    with pytest.raises(DatasetError, match="exists already"):
        convert_dataset(synth_root, tmp_path / "coco")


def test_kitti_panoptic_converts_like_cityscapes(synth_root: Path, tmp_path: Path):
    """KITTI panoptic as its authors ship it: {training,validation}/{images,annotations}/*.png, RGB ids."""
    kitti = tmp_path / "kitti"
    for split, folder in (("train", "training"), ("val", "validation")):
        for sample in open_split(synth_root, split).samples:
            (kitti / folder / "images").mkdir(parents=True, exist_ok=True)
            (kitti / folder / "annotations").mkdir(parents=True, exist_ok=True)
            shutil.copy(sample.image, kitti / folder / "images" / f"{sample.name}.png")
            rgb = id_to_rgb(read_id_image(sample.panoptic))
            cv2.imwrite(str(kitti / folder / "annotations" / f"{sample.name}.png"), rgb[..., ::-1])
    convert_dataset(kitti, tmp_path / "from-kitti")
    convert_dataset(synth_root, tmp_path / "from-cs")
    for split in ("train", "val"):
        a = json.loads((tmp_path / "from-kitti" / "annotations" / f"panoptic_{split}.json").read_text())
        b = json.loads((tmp_path / "from-cs" / "annotations" / f"panoptic_{split}.json").read_text())
        assert a == b


def test_synthetic_coco_dataset_with_its_own_classes(tmp_path: Path):
    names = parse_classes("sky,sea,sand,grass,rock:boat,buoy,swimmer")
    write_synthetic_coco(tmp_path / "a", 12, 2, (64, 96), seed=1, classes=names)
    write_synthetic_coco(tmp_path / "b", 12, 2, (64, 96), seed=1, classes=names)
    split = open_split(tmp_path / "a", "train")
    assert [c.name for c in split.classes] == ["sky", "sea", "sand", "grass", "rock", "boat", "buoy", "swimmer"]
    assert [c.label_id for c in split.classes] == [101, 102, 103, 104, 105, 1, 2, 3]  # the JSON lists things first
    segments = [s for sample in split.samples for s in sample.segments]
    assert any(s.iscrowd for s in segments) and {s.category_id for s in segments} == {1, 2, 3, 101, 102, 103, 104, 105}
    voids = 0
    for sample in split.samples:
        ids, segs = read_ground_truth(sample)
        assert {int(i) for i in np.unique(ids)} - {0} == {s.id for s in segs}
        assert all(int((ids == s.id).sum()) == s.area for s in segs)  # areas in the JSON are the PNG's
        voids += (ids == 0).any()
    assert voids > 0
    for name in ("annotations/panoptic_train.json", "images/train/train_000003.png", "annotations/panoptic_val/val_000001.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()  # deterministic
    assert parse_classes("5:3").things == ("thing 1", "thing 2", "thing 3")
    for bad in ("sky,sea", "sky:", "a,b:a"):
        with pytest.raises(ValueError, match="--classes"):
            parse_classes(bad)


def test_broken_coco_datasets_are_named(tmp_path: Path):
    root = tmp_path / "d"
    write_synthetic_coco(root, 3, 1, (64, 64), classes=parse_classes("2:1"))
    (root / "annotations" / "panoptic_train" / "train_000001.png").unlink()
    with pytest.raises(DatasetError, match="train_000001.png: missing"):
        open_split(root, "train")
    data = json.loads((root / "annotations" / "panoptic_val.json").read_text())
    data["annotations"][0]["segments_info"][0]["category_id"] = 77
    (root / "annotations" / "panoptic_val.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"unknown categories \[77\]"):
        open_split(root, "val")
    with pytest.raises(DatasetError, match="no panoptic JSON for split 'test'"):
        open_split(root, "test")
    with pytest.raises(DatasetError, match="neither a Cityscapes folder"):
        open_split(tmp_path, "train")


def test_synthetic_street_scenes_as_coco_are_the_converted_cityscapes_ones(tmp_path: Path):
    from train.synth import write_synthetic_cityscapes

    write_synthetic_coco(tmp_path / "coco", 3, 1, (64, 128), seed=2)
    write_synthetic_cityscapes(tmp_path / "cs", 3, 1, (64, 128), seed=2)
    convert_dataset(tmp_path / "cs", tmp_path / "converted")
    for split in ("train", "val"):
        a, b = open_split(tmp_path / "coco", split), open_split(tmp_path / "converted", split)
        assert a.classes == b.classes == CITYSCAPES_CLASSES
        by_image = {s.image.read_bytes(): s for s in b.samples}  # names differ, the scenes do not
        for sample in a.samples:
            other = by_image[sample.image.read_bytes()]
            assert sample.segments == other.segments
            assert np.array_equal(read_ground_truth(sample)[0], read_ground_truth(other)[0])
