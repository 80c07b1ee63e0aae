"""Anchor plans derived from training boxes, and their coverage of ground truth."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from mammobench.detection.anchors import (
    DEFAULT_ASPECT_RATIOS,
    AnchorPlan,
    anchor_coverage,
    coverage_report,
    plan_anchors,
)
from mammobench.errors import ConfigError

STRIDES = [4, 8, 16, 32, 64, 128]


def square_boxes(sizes, centre=100.0) -> np.ndarray:
    sizes = np.asarray(sizes, dtype=float)
    return np.stack([centre - sizes / 2, centre - sizes / 2, centre + sizes / 2, centre + sizes / 2], axis=1)


def test_levels_follow_box_sizes():
    boxes = square_boxes([8, 10, 12, 14, 40, 44, 48])

    plan = plan_anchors(boxes, STRIDES, min_stride=4)

    assert plan.strides == (4, 8)  # 8-14 px go to stride 4, 40-48 px (>= 4 x 8) to stride 8
    assert plan.n_boxes == 7


def test_sizes_are_level_quantiles():
    boxes = square_boxes([8, 10, 12, 14, 40, 44, 48])

    plan = plan_anchors(boxes, STRIDES, min_stride=4)

    assert plan.sizes[0] == pytest.approx(np.quantile([8, 10, 12, 14], [1 / 6, 1 / 2, 5 / 6]), abs=0.01)
    assert plan.sizes[1] == pytest.approx(np.quantile([40, 44, 48], [1 / 6, 1 / 2, 5 / 6]), abs=0.01)


def test_empty_level_gets_retinanet_sizes():
    boxes = square_boxes([10, 11, 12, 70, 72, 74])  # nothing lands on stride 8

    plan = plan_anchors(boxes, STRIDES, min_stride=4)

    assert plan.strides == (4, 8, 16)
    assert plan.sizes[1] == pytest.approx((32.0, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)), abs=0.01)


def test_aspect_ratios_follow_boxes():
    boxes = np.array([[0, 0, 20, 10], [0, 0, 20, 20], [0, 0, 10, 20], [0, 0, 20, 20], [0, 0, 20, 20]], dtype=float)

    plan = plan_anchors(boxes, STRIDES, min_stride=4)

    assert plan.aspect_ratios[0] < 1.0 < plan.aspect_ratios[2]
    assert plan.aspect_ratios[1] == pytest.approx(1.0)


def test_min_stride_excludes_fine_levels():
    plan = plan_anchors(square_boxes([8, 10, 12]), STRIDES, min_stride=8)

    assert plan.strides == (8,)


def test_no_boxes_gives_default_plan():
    plan = plan_anchors(np.zeros((0, 4)), STRIDES, min_stride=8)

    assert plan.strides == (8, 16, 32)
    assert plan.aspect_ratios == DEFAULT_ASPECT_RATIOS
    assert plan.n_boxes == 0


def test_no_allowed_level_is_rejected():
    with pytest.raises(ConfigError, match="stride of at least 256"):
        plan_anchors(square_boxes([10]), STRIDES, min_stride=256)


def test_anchors_are_centred_in_cells():
    plan = AnchorPlan(strides=(8,), sizes=((8.0, 8.0, 8.0),), aspect_ratios=(1.0,) * 3, n_boxes=0)

    anchors = plan.generator().anchors_for_image((16, 16))

    centres = torch.unique((anchors[:, 0] + anchors[:, 2]) / 2)
    assert centres.tolist() == [4.0, 12.0]
    assert (anchors[:, 2] - anchors[:, 0]).unique().tolist() == [8.0]


def test_boxes_equal_to_anchors_are_covered():
    plan = AnchorPlan(strides=(8,), sizes=((8.0, 16.0, 24.0),), aspect_ratios=(1.0,), n_boxes=0)
    boxes = np.array([[0, 0, 8, 8], [12, 12, 28, 28], [48, 48, 72, 72]], dtype=float)

    assert anchor_coverage(plan, boxes, (128, 96)) == pytest.approx(1.0)


def test_tiny_boxes_between_anchors_are_not_covered():
    plan = AnchorPlan(strides=(8,), sizes=((4.0, 4.0, 4.0),), aspect_ratios=(1.0,), n_boxes=0)
    boxes = np.array([[0, 0, 4, 4], [6, 6, 10, 10]], dtype=float)  # 2 and 4 px off the anchor at (4, 4)

    assert anchor_coverage(plan, boxes, (64, 64)) == 0.0


def test_coverage_is_undefined_without_boxes():
    plan = plan_anchors(np.zeros((0, 4)), STRIDES, min_stride=8)

    assert anchor_coverage(plan, np.zeros((0, 4)), (256, 160)) is None


def test_low_coverage_is_warned(caplog):
    plan = AnchorPlan(strides=(16,), sizes=((64.0, 64.0, 64.0),), aspect_ratios=(1.0,), n_boxes=0)
    boxes = np.array([[10, 10, 14, 14], [40, 40, 45, 46]], dtype=float)

    with caplog.at_level(logging.WARNING, logger="mammobench.detection.anchors"):
        report = coverage_report(plan, {"train": (boxes, np.array([0, 1]))}, ["mass", "calcification"], (128, 96))

    assert report["train"] == 0.0
    assert report["train/mass"] == 0.0
    assert "cover only 0%" in caplog.text
