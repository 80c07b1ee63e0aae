"""AP and FROC of predicted boxes as the detection protocol scores them, with intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mammobench.detection.names import detection_metric_names
from mammobench.detection.scoring import evaluate_boxes, score_with_intervals

CATEGORIES = ("mass", "calcification")
COLUMNS = ["image_id", "category", "xmin", "ymin", "xmax", "ymax"]


def boxes(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def scored(frame: pd.DataFrame, scores) -> pd.DataFrame:
    frame = frame.copy()
    frame["score"] = list(scores)
    return frame


@pytest.fixture
def truth() -> pd.DataFrame:
    return boxes(
        [
            ("a", "mass", 10, 10, 40, 40),
            ("a", "calcification", 60, 60, 70, 72),
            ("b", "mass", 5, 50, 25, 80),
            ("d", "calcification", 30, 30, 38, 36),
        ]
    )


IMAGES = ["a", "b", "c", "d"]  # 'c' is a normal image


def test_ground_truth_scores_one(truth):
    predictions = scored(truth, [0.9, 0.8, 0.7, 0.6])

    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)

    for name in detection_metric_names(CATEGORIES):
        assert scores.value(name).value == pytest.approx(1.0), name


def shifted(frame: pd.DataFrame, share: float) -> pd.DataFrame:
    """Move boxes right by ``share`` of their width (IoU with the original: (1 - s) / (1 + s))."""
    moved = frame.copy()
    widths = moved["xmax"] - moved["xmin"]
    moved["xmin"] += share * widths
    moved["xmax"] += share * widths
    return moved


def test_slightly_shifted_boxes_score_less(truth):
    predictions = scored(shifted(truth, 0.2), [0.9, 0.8, 0.7, 0.6])  # IoU 0.67

    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)

    assert scores.value("ap@0.5").value == pytest.approx(1.0)
    assert scores.value("ap@0.5:0.95").value == pytest.approx(0.4)  # hits at IoU 0.5-0.65 only


def test_far_shifted_boxes_miss_at_half(truth):
    predictions = scored(shifted(truth, 0.4), [0.9, 0.8, 0.7, 0.6])  # IoU 0.43

    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)

    assert scores.value("ap@0.25").value == pytest.approx(1.0)
    assert scores.value("ap@0.5").value == 0.0


def test_false_positive_on_normal_lowers_ap(truth):
    predictions = pd.concat(
        [scored(boxes([("c", "mass", 0, 0, 20, 20)]), [0.95]), scored(truth, [0.9, 0.8, 0.7, 0.6])]
    )

    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)

    assert scores.value("ap@0.25/mass").value < 1.0
    assert scores.value("ap@0.25/calcification").value == pytest.approx(1.0)


def test_many_boxes_need_configured_max_detections():
    grid = [("crowded", "mass", 12 * i, 12 * j, 12 * i + 10, 12 * j + 10) for i in range(15) for j in range(10)]
    truth = boxes(grid)  # 150 boxes, more than the default cap of 100 detections per image
    predictions = scored(truth, np.linspace(1.0, 0.5, len(truth)))

    capped = evaluate_boxes(truth, predictions, image_ids=["crowded"], categories=["mass"], max_detections=100)
    configured = evaluate_boxes(truth, predictions, image_ids=["crowded"], categories=["mass"], max_detections=200)

    assert configured.value("ap@0.5").value == pytest.approx(1.0)
    assert capped.value("ap@0.5").value < 0.7


def test_empty_predictions_score_zero(truth):
    empty = pd.DataFrame(columns=[*COLUMNS, "score"])

    scores = evaluate_boxes(truth, empty, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)

    assert scores.value("ap@0.25").value == 0.0
    assert scores.value("froc_mean").value == 0.0


def test_froc_hand_computed():
    truth = boxes([("a", "mass", 0, 0, 10, 10), ("c", "mass", 20, 20, 30, 30)])
    predictions = scored(
        boxes(
            [
                ("a", "mass", 0, 0, 10, 10),  # 0.9 hit: 1 lesion, 0 false positives
                ("b", "mass", 0, 0, 5, 5),  # 0.8 false positive: 1 FP over 3 images
                ("c", "mass", 50, 50, 60, 60),  # 0.7 false positive: 2/3 FP per image
                ("c", "mass", 20, 20, 30, 30),  # 0.6 hit: both lesions at 2/3 FP per image
                ("a", "mass", 40, 40, 50, 50),  # 0.5 false positive: 1 FP per image
            ]
        ),
        [0.9, 0.8, 0.7, 0.6, 0.5],
    )

    scores = evaluate_boxes(truth, predictions, image_ids=["a", "b", "c"], categories=["mass"], max_detections=100)

    expected = {0.25: 0.5, 0.5: 0.5, 1: 1.0, 2: 1.0, 4: 1.0}
    for rate, sensitivity in expected.items():
        assert scores.value(f"sensitivity@{rate:g}fpi").value == pytest.approx(sensitivity), rate
    assert scores.value("froc_mean").value == pytest.approx(0.8)


def test_intervals_bracket_the_value(truth):
    predictions = pd.concat(
        [scored(boxes([("c", "mass", 0, 0, 20, 20)]), [0.75]), scored(truth, [0.9, 0.8, 0.7, 0.6])]
    )
    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)
    names = ["ap@0.25", "froc_mean", "ap@0.5/mass"]

    metrics = score_with_intervals(scores, names, ["p1", "p1", "p2", "p3"], n_bootstrap=300, seed=0)

    assert [metric.name for metric in metrics] == names
    for metric in metrics:
        estimate = metric.estimate
        assert estimate.ci.low <= estimate.value.value <= estimate.ci.high, metric.name
        assert estimate.ci.n_resamples == 300
        assert metric.n_eval == 4
        assert metric.n_eval_patients == 3


def test_undefined_metric_has_reason(truth):
    only_masses = truth[truth["category"] == "mass"]
    scores = evaluate_boxes(
        only_masses, scored(only_masses, [0.9, 0.8]), image_ids=IMAGES, categories=CATEGORIES, max_detections=100
    )

    metric = score_with_intervals(scores, ["ap@0.25/calcification"], ["p1", "p1", "p2", "p3"], n_bootstrap=100, seed=0)[0]

    assert math.isnan(metric.estimate.value.value)
    assert "calcification" in metric.estimate.value.reason
    assert not metric.estimate.ci.defined


def test_metric_names_cover_categories():
    names = detection_metric_names(["mass"])

    assert names[:2] == ["ap@0.25", "ap@0.25/mass"]
    assert "ap@0.5:0.95/mass" in names
    assert "sensitivity@0.25fpi" in names
    assert "froc_mean/mass" in names
    assert len(names) == 3 * 2 + 6 * 2


def test_weighted_means_match_evaluations(truth):
    predictions = pd.concat(
        [scored(boxes([("c", "mass", 0, 0, 20, 20)]), [0.75]), scored(shifted(truth, 0.3), [0.9, 0.8, 0.7, 0.6])]
    )
    scores = evaluate_boxes(truth, predictions, image_ids=IMAGES, categories=CATEGORIES, max_detections=100)
    weights = np.random.default_rng(0).integers(0, 3, size=(50, len(IMAGES))).astype(float)

    for name, direct in (
        ("ap@0.25", scores.ap.weighted("ap@0.25", weights)),
        ("ap@0.5:0.95", scores.ap.weighted("ap@0.5:0.95", weights)),
        ("froc_mean", scores.froc.weighted("froc_mean", weights)),
        ("sensitivity@1fpi", scores.froc.weighted("sensitivity@1fpi", weights)),
    ):
        np.testing.assert_allclose(scores.weighted(name, weights), direct, err_msg=name)
