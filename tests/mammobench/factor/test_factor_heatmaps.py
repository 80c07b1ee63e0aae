"""Heatmaps: channel weighting, the mapping to the image frame, and box extraction."""

from __future__ import annotations

import numpy as np
import pytest

from mammobench.factor.heatmaps import (
    attribute_heatmap,
    heatmap_boxes,
    similarity_confidence,
    to_image_frame,
)


def test_boxes_of_handmade_heatmap():
    heatmap = np.zeros((40, 30))
    heatmap[5:10, 4:12] = 2.0  # the strongest region
    heatmap[30:34, 20:26] = 1.0

    boxes = heatmap_boxes(heatmap, percentile=90.0, confidence=0.8)

    assert len(boxes) == 2
    assert boxes.loc[0, ["xmin", "ymin", "xmax", "ymax"]].tolist() == [4.0, 5.0, 12.0, 10.0]
    assert boxes.loc[1, ["xmin", "ymin", "xmax", "ymax"]].tolist() == [20.0, 30.0, 26.0, 34.0]
    assert boxes["score"].tolist() == pytest.approx([0.8, 0.4])
    assert boxes["n_pixels"].tolist() == [40, 24]


def test_percentile_drops_weaker_region():
    heatmap = np.zeros((40, 30))
    heatmap[5:10, 4:12] = 2.0
    heatmap[30:34, 20:26] = 1.0

    boxes = heatmap_boxes(heatmap, percentile=97.0, confidence=1.0)

    assert boxes[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [[4.0, 5.0, 12.0, 10.0]]


def test_constant_heatmap_gives_no_boxes():
    boxes = heatmap_boxes(np.ones((8, 8)), percentile=95.0, confidence=1.0)

    assert boxes.empty
    assert list(boxes.columns) == ["xmin", "ymin", "xmax", "ymax", "score", "n_pixels"]


def test_upsampled_cell_peaks_at_its_pixels():
    grid = np.zeros((4, 3))
    grid[2, 1] = 1.0

    image = to_image_frame(grid, stride=8, image_size=(32, 24))

    assert image.shape == (32, 24)
    row, column = np.unravel_index(np.argmax(image), image.shape)
    assert 16 <= row < 24
    assert 8 <= column < 16
    rows, columns = np.nonzero(image == image.max())
    assert rows.mean() + 0.5 == pytest.approx(20.0)  # the cell's centre, (2 + 0.5) * 8
    assert columns.mean() + 0.5 == pytest.approx(12.0)


def test_frame_is_cropped_to_image():
    grid = np.arange(12, dtype=float).reshape(4, 3)

    image = to_image_frame(grid, stride=8, image_size=(30, 20))

    assert image.shape == (30, 20)


def test_grid_smaller_than_image_rejected():
    with pytest.raises(ValueError, match="covers"):
        to_image_frame(np.zeros((2, 2)), stride=8, image_size=(32, 16))


def test_softmax_weighting_follows_similarity():
    maps = np.zeros((2, 3, 3))
    maps[0, 0, 0] = 1.0
    maps[1, 2, 2] = 1.0

    heatmap = attribute_heatmap(maps, np.array([0.1, 0.9]), temperature=0.07)

    assert np.unravel_index(np.argmax(heatmap), heatmap.shape) == (2, 2)
    assert heatmap.sum() == pytest.approx(1.0)


def test_max_weighting_takes_one_channel():
    maps = np.random.default_rng(0).normal(size=(4, 3, 3))

    heatmap = attribute_heatmap(maps, np.array([0.1, 0.5, 0.2, -0.3]), temperature=0.07, weighting="max")

    assert np.array_equal(heatmap, maps[1])


def test_confidence_maps_cosine_to_unit_range():
    assert similarity_confidence(1.0) == 1.0
    assert similarity_confidence(-1.0) == 0.0
    assert similarity_confidence(0.0) == 0.5
