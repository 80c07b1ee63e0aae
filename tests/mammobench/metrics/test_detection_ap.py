"""COCO-style AP through pycocotools: self-checks, settings and the weighted form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammobench.metrics.detection import evaluate_detection
from mammobench.metrics.value import MetricInputError

CATEGORIES = ["mass", "calcification"]


def boxes(rows: list[tuple]) -> pd.DataFrame:
    columns = ["image_id", "category", "xmin", "ymin", "xmax", "ymax", "score"][: len(rows[0])]
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture
def ground_truth() -> pd.DataFrame:
    return boxes(
        [
            ("a", "mass", 10, 10, 60, 60),
            ("a", "calcification", 100, 100, 120, 130),
            ("b", "mass", 200, 50, 260, 140),
            ("c", "calcification", 5, 5, 25, 25),
        ]
    )


IMAGES = ["a", "b", "c", "normal"]


def test_ground_truth_as_predictions_scores_one(ground_truth):
    predictions = ground_truth.assign(score=[0.9, 0.8, 0.7, 0.6])
    evaluation = evaluate_detection(
        ground_truth, predictions, image_ids=IMAGES, categories=CATEGORIES
    )
    for name, value in evaluation.metrics().items():
        assert value.value == pytest.approx(1.0), name


def test_shifted_boxes_score_less(ground_truth):
    shifted = ground_truth.copy()
    widths = shifted["xmax"] - shifted["xmin"]
    shifted["xmin"] += widths * 0.45
    shifted["xmax"] += widths * 0.45
    # A shift of 45 % of the width leaves IoU 0.55 / 1.45 = 0.38: a hit at 0.25, a miss at 0.5.
    evaluation = evaluate_detection(
        ground_truth, shifted.assign(score=0.5), image_ids=IMAGES, categories=CATEGORIES
    )
    assert evaluation.ap("0.25").value == pytest.approx(1.0)
    assert evaluation.ap("0.5").value == 0.0
    assert evaluation.ap("0.5:0.95").value == 0.0


def test_iou_threshold_read_from_precision():
    truth = boxes([("a", "mass", 0, 0, 100, 100)])
    # IoU 0.3: only the 0.25 threshold matches.
    predictions = boxes([("a", "mass", 0, 0, 30, 100, 0.9)])
    evaluation = evaluate_detection(truth, predictions, image_ids=["a"], categories=["mass"])
    assert evaluation.ap(0.25).value == pytest.approx(1.0)
    assert evaluation.ap(0.5).value == 0.0


def test_many_boxes_need_higher_max_detections():
    rows = [("crowded", "calcification", x * 10, 0, x * 10 + 8, 8) for x in range(150)]
    truth = boxes(rows)
    predictions = truth.assign(score=np.linspace(1.0, 0.5, 150))

    raised = evaluate_detection(
        truth, predictions, image_ids=["crowded"], categories=["calcification"], max_detections=200
    )
    default = evaluate_detection(
        truth, predictions, image_ids=["crowded"], categories=["calcification"]
    )
    assert raised.max_detections == 200
    assert raised.ap("0.5").value == pytest.approx(1.0)
    assert default.ap("0.5").value < 0.7


def test_empty_predictions_score_zero(ground_truth):
    empty = pd.DataFrame(columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax", "score"])
    evaluation = evaluate_detection(ground_truth, empty, image_ids=IMAGES, categories=CATEGORIES)
    assert evaluation.ap("0.25").value == 0.0
    assert evaluation.ap("0.5", "mass").value == 0.0

    no_columns = evaluate_detection(
        ground_truth, pd.DataFrame(), image_ids=IMAGES, categories=CATEGORIES
    )
    assert no_columns.ap("0.25").value == 0.0


def test_category_without_ground_truth_is_nan(ground_truth):
    predictions = ground_truth.assign(score=0.9)
    evaluation = evaluate_detection(
        ground_truth, predictions, image_ids=IMAGES, categories=[*CATEGORIES, "asymmetry"]
    )
    result = evaluation.ap("0.25", "asymmetry")
    assert not result.defined
    assert "no ground-truth boxes of category 'asymmetry'" in result.reason
    assert evaluation.ap("0.25").value == pytest.approx(1.0)


def test_false_positive_on_normal_image_lowers_ap(ground_truth):
    predictions = pd.concat(
        [ground_truth.assign(score=0.5), boxes([("normal", "mass", 0, 0, 50, 50, 0.99)])]
    )
    evaluation = evaluate_detection(
        ground_truth, predictions, image_ids=IMAGES, categories=CATEGORIES
    )
    assert evaluation.ap("0.25", "mass").value < 1.0
    assert evaluation.ap("0.25", "calcification").value == pytest.approx(1.0)


def test_unknown_image_raises(ground_truth):
    predictions = boxes([("elsewhere", "mass", 0, 0, 10, 10, 0.9)])
    with pytest.raises(MetricInputError, match="elsewhere"):
        evaluate_detection(ground_truth, predictions, image_ids=IMAGES, categories=CATEGORIES)


def test_unknown_category_raises(ground_truth):
    predictions = boxes([("a", "nodule", 0, 0, 10, 10, 0.9)])
    with pytest.raises(MetricInputError, match="nodule"):
        evaluate_detection(ground_truth, predictions, image_ids=IMAGES, categories=CATEGORIES)


def test_degenerate_box_raises(ground_truth):
    predictions = boxes([("a", "mass", 10, 10, 10, 20, 0.9)])
    with pytest.raises(MetricInputError, match="zero or negative width"):
        evaluate_detection(ground_truth, predictions, image_ids=IMAGES, categories=CATEGORIES)


def test_missing_score_raises(ground_truth):
    with pytest.raises(MetricInputError, match="score"):
        evaluate_detection(ground_truth, ground_truth, image_ids=IMAGES, categories=CATEGORIES)


def test_pycocotools_prints_nothing(ground_truth, capsys):
    evaluate_detection(
        ground_truth, ground_truth.assign(score=0.5), image_ids=IMAGES, categories=CATEGORIES
    )
    assert capsys.readouterr().out == ""


def random_detection_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Ground truth and noisy, untied predictions on twenty images."""
    rng = np.random.default_rng(seed)
    image_ids = [f"img{i:02d}" for i in range(20)]
    truth_rows, prediction_rows = [], []
    for image_id in image_ids:
        for _ in range(rng.integers(0, 3)):
            x, y = rng.uniform(0, 200, size=2)
            size = rng.uniform(10, 40)
            category = CATEGORIES[rng.integers(0, 2)]
            truth_rows.append((image_id, category, x, y, x + size, y + size))
            jitter = rng.normal(scale=size * 0.2, size=2)
            prediction_rows.append(
                (
                    image_id,
                    category,
                    x + jitter[0],
                    y + jitter[1],
                    x + size + jitter[0],
                    y + size + jitter[1],
                    rng.random(),
                )
            )
        for _ in range(rng.integers(0, 3)):
            x, y = rng.uniform(0, 200, size=2)
            prediction_rows.append(
                (image_id, CATEGORIES[rng.integers(0, 2)], x, y, x + 20, y + 20, rng.random())
            )
    return boxes(truth_rows), boxes(prediction_rows), image_ids


def test_weighted_ap_equals_pycocotools():
    truth, predictions, image_ids = random_detection_case(0)
    evaluation = evaluate_detection(truth, predictions, image_ids=image_ids, categories=CATEGORIES)
    ones = np.ones((1, len(image_ids)))
    for name, value in evaluation.metrics().items():
        assert evaluation.weighted(name, ones)[0] == pytest.approx(value.value, abs=1e-12), name


def test_weighted_ap_equals_duplicated_images():
    """Weight 2 on an image equals evaluating a copy of that image next to it."""
    truth, predictions, image_ids = random_detection_case(1)
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 3, size=len(image_ids))

    copies = []
    for image_id, count in zip(image_ids, counts):
        copies += [(image_id, f"{image_id}#{copy}") for copy in range(count)]
    copied_truth = pd.concat(
        [truth[truth["image_id"] == source].assign(image_id=target) for source, target in copies]
    )
    copied_predictions = pd.concat(
        [
            predictions[predictions["image_id"] == source].assign(image_id=target)
            for source, target in copies
        ]
    )
    expanded = evaluate_detection(
        copied_truth,
        copied_predictions,
        image_ids=[target for _, target in copies],
        categories=CATEGORIES,
    )
    evaluation = evaluate_detection(truth, predictions, image_ids=image_ids, categories=CATEGORIES)
    for name, value in expanded.metrics().items():
        weighted_value = evaluation.weighted(name, counts[None, :])[0]
        if value.defined:
            assert weighted_value == pytest.approx(value.value, abs=1e-9), name
        else:
            assert np.isnan(weighted_value), name
