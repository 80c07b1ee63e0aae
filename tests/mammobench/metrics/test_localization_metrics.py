"""IoU hit rate, pointing game and heatmap-to-box extraction on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammobench.metrics.bootstrap import bootstrap_mean
from mammobench.metrics.localization import heatmap_to_boxes, hit_rate, iou_hits, pointing_game
from mammobench.metrics.value import MetricInputError

BOX_COLUMNS = ["image_id", "category", "xmin", "ymin", "xmax", "ymax"]


def test_iou_hits_per_threshold():
    truth = pd.DataFrame(
        [("a", "mass", 0, 0, 100, 100), ("b", "mass", 0, 0, 10, 10), ("c", "mass", 0, 0, 10, 10)],
        columns=BOX_COLUMNS,
    )
    predictions = pd.DataFrame(
        [
            ("a", "mass", 0, 0, 100, 30),  # IoU 0.3 with a's lesion
            ("a", "mass", 200, 200, 210, 210),  # far away; the best box counts
            ("b", "mass", 0, 0, 10, 10),  # exact
            ("c", "calcification", 0, 0, 10, 10),  # other category: no hit for mass
        ],
        columns=BOX_COLUMNS,
    )
    outcomes = iou_hits(truth, predictions)
    assert outcomes["image_id"].tolist() == ["a", "b", "c"]
    assert outcomes["best_iou"].tolist() == pytest.approx([0.3, 1.0, 0.0])
    assert outcomes["hit@0.25"].tolist() == [True, True, False]
    assert outcomes["hit@0.5"].tolist() == [False, True, False]
    assert hit_rate(outcomes, "hit@0.25").value == pytest.approx(2 / 3)


def test_iou_hits_without_predictions():
    truth = pd.DataFrame([("a", "mass", 0, 0, 10, 10)], columns=BOX_COLUMNS)
    outcomes = iou_hits(truth, pd.DataFrame())
    assert outcomes["best_iou"].tolist() == [0.0]
    assert outcomes["hit@0.25"].tolist() == [False]


def test_hit_rate_empty_is_nan():
    outcomes = iou_hits(pd.DataFrame(columns=BOX_COLUMNS), pd.DataFrame(columns=BOX_COLUMNS))
    result = hit_rate(outcomes, "hit@0.25")
    assert not result.defined


def test_hit_outcomes_bootstrap_by_patient():
    outcomes = pd.DataFrame({"hit@0.25": [True, False, True, True]})
    result = bootstrap_mean(outcomes["hit@0.25"], ["p1", "p1", "p2", "p3"], n_resamples=200)
    assert result.value.value == 0.75
    assert result.ci.n_used == 200


def test_pointing_game_hits_and_misses():
    inside = np.zeros((20, 30))
    inside[5, 12] = 1.0  # point (12.5, 5.5)
    outside = np.zeros((20, 30))
    outside[18, 2] = 1.0  # point (2.5, 18.5)
    truth = pd.DataFrame(
        [("in", "mass", 10, 4, 15, 8), ("out", "mass", 10, 4, 15, 8)], columns=BOX_COLUMNS
    )
    outcomes = pointing_game({"in": inside, "out": outside}, truth)
    assert outcomes["hit"].tolist() == [True, False]
    assert outcomes[["x", "y"]].iloc[0].tolist() == [12.5, 5.5]


def test_pointing_game_tolerance():
    heatmap = np.zeros((10, 10))
    heatmap[0, 0] = 1.0  # point (0.5, 0.5), 2.5 px left of the box
    truth = pd.DataFrame([("a", "mass", 3, 0, 6, 3)], columns=BOX_COLUMNS)
    assert not pointing_game({"a": heatmap}, truth)["hit"].iloc[0]
    assert pointing_game({"a": heatmap}, truth, tolerance=3.0)["hit"].iloc[0]


def test_pointing_game_missing_heatmap_raises():
    truth = pd.DataFrame([("a", "mass", 0, 0, 5, 5)], columns=BOX_COLUMNS)
    with pytest.raises(MetricInputError, match="no heatmap"):
        pointing_game({}, truth)


def test_heatmap_to_boxes_two_blobs():
    heatmap = np.zeros((40, 50))
    heatmap[5:10, 8:14] = 0.6  # rows 5-9, columns 8-13
    heatmap[7, 10] = 0.9
    heatmap[25:31, 30:34] = 0.8  # rows 25-30, columns 30-33
    boxes = heatmap_to_boxes(heatmap, percentile=95)
    assert boxes[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [
        [8, 5, 14, 10],
        [30, 25, 34, 31],
    ]
    assert boxes["score"].tolist() == [0.9, 0.8]
    assert boxes["n_pixels"].tolist() == [30, 24]


def test_heatmap_to_boxes_mass_score():
    heatmap = np.zeros((40, 50))
    heatmap[5:10, 8:14] = 0.6
    heatmap[25:31, 30:34] = 0.8
    boxes = heatmap_to_boxes(heatmap, score="mass")
    assert boxes["score"].tolist() == pytest.approx([24 * 0.8, 30 * 0.6])


def test_heatmap_to_boxes_high_percentile_keeps_peak():
    # A smooth bump: only pixels above its 95th percentile survive, at most 5 % of 400.
    rows, columns = np.mgrid[0:20, 0:20]
    heatmap = np.exp(-((rows - 10.0) ** 2 + (columns - 6.0) ** 2) / 8.0)
    boxes = heatmap_to_boxes(heatmap, percentile=95)
    assert len(boxes) == 1
    box = boxes.iloc[0]
    assert box["xmin"] <= 6 < box["xmax"]
    assert box["ymin"] <= 10 < box["ymax"]
    assert 0 < box["n_pixels"] <= 20


def test_heatmap_to_boxes_plateau_at_maximum():
    heatmap = np.zeros((10, 10))
    heatmap[2:6, 2:6] = 1.0  # 16 % of pixels share the maximum, so the 95th percentile is 1.0
    boxes = heatmap_to_boxes(heatmap)
    assert boxes[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [[2, 2, 6, 6]]


def test_heatmap_to_boxes_constant_gives_none():
    assert heatmap_to_boxes(np.full((8, 8), 0.3)).empty


def test_heatmap_to_boxes_scales_to_image():
    heatmap = np.zeros((10, 20))
    heatmap[2:4, 5:10] = 1.0
    boxes = heatmap_to_boxes(heatmap, image_size=(1000, 400))
    assert boxes[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [[100, 200, 200, 400]]


def test_heatmap_to_boxes_min_pixels():
    heatmap = np.zeros((10, 10))
    heatmap[1, 1] = 1.0
    heatmap[5:8, 5:8] = 0.9
    # At the 80th percentile both components are kept; the single pixel is then too small.
    boxes = heatmap_to_boxes(heatmap, percentile=80, min_pixels=2)
    assert boxes["n_pixels"].tolist() == [9]


def test_heatmap_with_nan_raises():
    heatmap = np.zeros((4, 4))
    heatmap[1, 1] = np.nan
    with pytest.raises(MetricInputError, match="NaN"):
        heatmap_to_boxes(heatmap)
