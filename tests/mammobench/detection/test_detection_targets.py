"""Ground-truth boxes in processed pixels: degenerate boxes are dropped or grown, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from mammobench.data.transforms import BoxTransform
from mammobench.detection.targets import MIN_BOX_SIZE, clamp_small_boxes, to_processed_boxes

# A 400 x 200 source cropped to its left half-width... then resized to 100 x 50 (scale 0.25).
TRANSFORM = BoxTransform(source_size=(400, 200), crop=(0, 0, 200, 400), flip=False, output_size=(100, 50))


def test_boxes_are_scaled_into_processed_pixels():
    boxes, keep, counts = to_processed_boxes(np.array([[40.0, 80.0, 120.0, 160.0]]), TRANSFORM)

    assert boxes.tolist() == [[10.0, 20.0, 30.0, 40.0]]
    assert keep.tolist() == [True]
    assert counts.kept == 1


def test_degenerate_boxes_are_dropped():
    source = np.array(
        [
            [40.0, 80.0, 40.0, 160.0],  # zero width
            [60.0, 80.0, 20.0, 160.0],  # xmax < xmin
            [np.nan, 0.0, 10.0, 10.0],  # missing coordinate
            [210.0, 10.0, 230.0, 30.0],  # outside the frame: collapses when clipped
            [40.0, 80.0, 120.0, 160.0],  # valid
        ]
    )

    boxes, keep, counts = to_processed_boxes(source, TRANSFORM)

    assert keep.tolist() == [False, False, False, False, True]
    assert counts.dropped == 4
    assert counts.kept == 1
    assert len(boxes) == 1


def test_tiny_boxes_grow_to_minimum_size():
    source = np.array([[100.0, 100.0, 101.0, 101.5]])  # 0.25 x 0.375 processed pixels

    boxes, _, counts = to_processed_boxes(source, TRANSFORM)

    width, height = boxes[0, 2] - boxes[0, 0], boxes[0, 3] - boxes[0, 1]
    assert width == pytest.approx(MIN_BOX_SIZE)
    assert height == pytest.approx(MIN_BOX_SIZE)
    assert counts.clamped == 1


def test_grown_boxes_stay_inside_image():
    boxes, clamped = clamp_small_boxes(np.array([[49.9, 0.0, 50.0, 0.2]]), height=100, width=50)

    assert clamped == 1
    assert boxes[0].tolist() == pytest.approx([49.0, 0.0, 50.0, 1.0])


def test_empty_boxes_pass_through():
    boxes, keep, counts = to_processed_boxes(np.zeros((0, 4)), TRANSFORM)

    assert boxes.shape == (0, 4)
    assert keep.shape == (0,)
    assert counts.dropped == 0
