"""Dataset discovery, targets from gtFine, augmentation, batching, and the synthetic generator."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model import CITYSCAPES_CLASSES
from train.data import (DatasetError, PanopticDataset, collate, find_samples, masks_to_boxes, read_ground_truth,
                        targets_from_panoptic)
from train.synth import render_scene
from train.transforms import Augment


def test_find_samples_and_ground_truth(synth_root: Path):
    samples = find_samples(synth_root, "train")
    assert len(samples) == 6 and samples == sorted(samples, key=lambda s: s.name)
    semantic, masks, labels = targets_from_panoptic(*read_ground_truth(samples[0]), CITYSCAPES_CLASSES)
    assert semantic.dtype == np.uint8 and set(np.unique(semantic)) <= set(range(19)) | {255}
    assert masks.dtype == bool and len(masks) == len(labels) > 0
    assert set(labels.tolist()) <= set(range(11, 19))
    for mask, label in zip(masks, labels):
        assert (semantic[mask] == label).all()  # an instance's pixels carry its class


def test_crowd_regions_are_semantic_only(tmp_path: Path):
    from train.synth import write_synthetic_cityscapes

    write_synthetic_cityscapes(tmp_path, train=12, val=0, size=(128, 256), seed=5)
    found = False
    for sample in find_samples(tmp_path, "train"):
        import cv2

        inst = cv2.imread(str(sample.panoptic), cv2.IMREAD_UNCHANGED)
        crowd = inst == 24  # person pixels with a crowd id (< 1000)
        if crowd.any():
            found = True
            semantic, masks, _ = targets_from_panoptic(*read_ground_truth(sample), CITYSCAPES_CLASSES)
            assert (semantic[crowd] == 11).all()
            assert not masks[:, crowd].any()
    assert found, "the generator should make some crowd regions"


def test_missing_ground_truth_is_named(synth_root: Path, tmp_path: Path):
    root = tmp_path / "cs"
    shutil.copytree(synth_root, root)
    victim = find_samples(root, "val")[1].panoptic
    victim.unlink()
    with pytest.raises(DatasetError, match=victim.name):
        find_samples(root, "val")
    with pytest.raises(DatasetError, match="no '\\*_leftImg8bit.png' images"):
        find_samples(tmp_path / "empty", "train")


def test_boxes_use_pixel_edges():
    masks = torch.zeros((2, 10, 12), dtype=torch.bool)
    masks[0, 2:5, 3:6] = True
    masks[1, 7, 11] = True  # one pixel in the corner
    assert masks_to_boxes(masks).tolist() == [[3, 2, 6, 5], [11, 7, 12, 8]]


def test_augment_scales_crops_flips_consistently():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :100] = 255
    semantic = np.zeros((100, 200), np.uint8)
    semantic[:, :100] = 7
    masks = np.zeros((1, 100, 200), bool)
    masks[0, :, :100] = True
    aug = Augment(base_size=(100, 200), scale_range=(2.0, 2.0), crop=(64, 96), flip=1.0)
    out_img, out_sem, out_masks = aug(image, semantic, masks, np.random.default_rng(0))
    assert out_img.shape == (64, 96, 3) and out_sem.shape == out_masks.shape[1:] == (64, 96)
    assert np.array_equal(out_sem == 7, out_masks[0]) and np.array_equal(out_img[..., 0] == 255, out_masks[0])
    small = Augment(base_size=(100, 200), scale_range=(0.5, 0.5), crop=(64, 96), flip=0.0)
    assert small(image, semantic, masks, np.random.default_rng(0))[1].shape == (50, 96)  # crops never pad


def test_dataset_items_and_collate(synth_root: Path):
    ds = PanopticDataset(find_samples(synth_root, "train"), CITYSCAPES_CLASSES,
                            Augment(base_size=(128, 256), scale_range=(0.5, 1.5), crop=(96, 160)), seed=3)
    a, b = ds[0], ds[1]
    assert torch.equal(ds[0][0], a[0])  # same (seed, epoch, index): same augmentation
    ds.epoch = 1
    images, targets = collate([ds[0], b])
    assert images.shape[0] == 2 and images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    for t in targets:
        assert t["semantic"].shape == images.shape[-2:] and t["masks"].shape[-2:] == images.shape[-2:]
        wh = t["boxes"][:, 2:] - t["boxes"][:, :2]
        assert (wh > 0).all() and t["labels"].dtype == torch.int64


def test_synthetic_scenes_are_deterministic_and_varied():
    a, b, c = render_scene(96, 192, 7), render_scene(96, 192, 7), render_scene(96, 192, 8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    image, label, inst = a
    assert image.dtype == np.uint8 and label.dtype == np.uint8 and inst.dtype == np.uint16
    assert {7, 8, 11, 23} <= set(np.unique(label).tolist())  # road, sidewalk, building, sky
    assert (inst[inst >= 1000] // 1000 >= 24).all()
