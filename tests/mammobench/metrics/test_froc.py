"""FROC on hand-computed cases, hit criteria and the weighted form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammobench.metrics.froc import evaluate_froc
from mammobench.metrics.value import MetricInputError

COLUMNS = ["image_id", "category", "xmin", "ymin", "xmax", "ymax", "score"]


@pytest.fixture
def hand_case() -> dict:
    """Four images, two lesions (on a and b); c and d are normal.

    By descending score: 0.9 hits lesion a (TP), 0.8 on c (FP), 0.7 hits lesion a again
    (duplicate, ignored), 0.6 on d (FP), 0.5 hits lesion b (TP), 0.4 on c (FP).
    """
    truth = pd.DataFrame(
        [("a", "mass", 10, 10, 50, 50), ("b", "mass", 100, 100, 140, 140)], columns=COLUMNS[:6]
    )
    predictions = pd.DataFrame(
        [
            ("a", "mass", 12, 12, 52, 52, 0.9),
            ("c", "mass", 0, 0, 20, 20, 0.8),
            ("a", "mass", 8, 8, 48, 48, 0.7),
            ("d", "mass", 0, 0, 20, 20, 0.6),
            ("b", "mass", 100, 100, 138, 140, 0.5),
            ("c", "mass", 50, 50, 70, 70, 0.4),
        ],
        columns=COLUMNS,
    )
    return {"truth": truth, "predictions": predictions, "image_ids": ["a", "b", "c", "d"]}


def test_froc_hand_computed(hand_case):
    evaluation = evaluate_froc(
        hand_case["truth"],
        hand_case["predictions"],
        image_ids=hand_case["image_ids"],
        categories=["mass"],
    )
    # Operating points as (FPs per image, sensitivity):
    # (0, .5), (.25, .5), (.5, .5), (.5, 1), (.75, 1).
    assert evaluation.sensitivity(0.25).value == 0.5
    assert evaluation.sensitivity(0.5).value == 1.0
    assert evaluation.sensitivity(1.0).value == 1.0
    assert evaluation.sensitivity(4.0).value == 1.0
    assert evaluation.mean_sensitivity().value == pytest.approx((0.5 + 1 + 1 + 1 + 1) / 5)


def test_froc_curve_points(hand_case):
    evaluation = evaluate_froc(
        hand_case["truth"],
        hand_case["predictions"],
        image_ids=hand_case["image_ids"],
        categories=["mass"],
    )
    curve = evaluation.curve("mass")
    assert curve["fps_per_image"].tolist() == [0.0, 0.25, 0.25, 0.5, 0.5, 0.75]
    assert curve["sensitivity"].tolist() == [0.5, 0.5, 0.5, 0.5, 1.0, 1.0]


def test_froc_budget_below_first_false_positive():
    truth = pd.DataFrame([("a", "mass", 0, 0, 10, 10)], columns=COLUMNS[:6])
    predictions = pd.DataFrame(
        [("b", "mass", 0, 0, 10, 10, 0.9), ("a", "mass", 0, 0, 10, 10, 0.5)], columns=COLUMNS
    )
    evaluation = evaluate_froc(truth, predictions, image_ids=["a", "b"], categories=["mass"])
    # The first FP already costs 0.5 FPs per image, so nothing is reachable at 0.25.
    assert evaluation.sensitivity(0.25).value == 0.0
    assert evaluation.sensitivity(0.5).value == 1.0


def test_froc_tied_scores_form_one_cut_off():
    truth = pd.DataFrame([("a", "mass", 0, 0, 10, 10)], columns=COLUMNS[:6])
    predictions = pd.DataFrame(
        [("b", "mass", 0, 0, 10, 10, 0.7), ("a", "mass", 0, 0, 10, 10, 0.7)], columns=COLUMNS
    )
    evaluation = evaluate_froc(
        truth, predictions, image_ids=["a", "b", "c", "d"], categories=["mass"]
    )
    # The tie cannot be split: the lesion is found only together with the FP (0.25 per image).
    assert evaluation.sensitivity(0.25).value == 1.0
    assert evaluation.curve("mass")["fps_per_image"].tolist() == [0.25]


def test_center_criterion_hits_low_iou():
    truth = pd.DataFrame([("a", "mass", 0, 0, 100, 100)], columns=COLUMNS[:6])
    # A small box in the middle: IoU 0.04, centre inside.
    predictions = pd.DataFrame([("a", "mass", 40, 40, 60, 60, 0.9)], columns=COLUMNS)
    by_iou = evaluate_froc(truth, predictions, image_ids=["a"], categories=["mass"])
    by_center = evaluate_froc(
        truth, predictions, image_ids=["a"], categories=["mass"], criterion="center"
    )
    assert by_iou.sensitivity(4.0).value == 0.0
    assert by_center.sensitivity(4.0).value == 1.0


def test_category_without_lesions_is_nan(hand_case):
    evaluation = evaluate_froc(
        hand_case["truth"],
        hand_case["predictions"],
        image_ids=hand_case["image_ids"],
        categories=["mass", "calcification"],
    )
    metrics = evaluation.metrics()
    assert not metrics["froc_mean/calcification"].defined
    assert "calcification" in metrics["froc_mean/calcification"].reason
    assert metrics["froc_mean"].value == pytest.approx(0.9)


def test_empty_predictions_zero_sensitivity(hand_case):
    empty = pd.DataFrame(columns=COLUMNS)
    evaluation = evaluate_froc(
        hand_case["truth"], empty, image_ids=hand_case["image_ids"], categories=["mass"]
    )
    assert evaluation.mean_sensitivity().value == 0.0


def test_unknown_image_raises(hand_case):
    with pytest.raises(MetricInputError, match="'c'"):
        evaluate_froc(
            hand_case["truth"],
            hand_case["predictions"],
            image_ids=["a", "b", "d"],
            categories=["mass"],
        )


def test_weighted_froc_equals_duplicated_images(hand_case):
    counts = np.array([2, 1, 0, 3])
    evaluation = evaluate_froc(
        hand_case["truth"],
        hand_case["predictions"],
        image_ids=hand_case["image_ids"],
        categories=["mass"],
    )
    copies = [
        (image_id, f"{image_id}#{k}")
        for image_id, count in zip(hand_case["image_ids"], counts)
        for k in range(count)
    ]
    expanded = evaluate_froc(
        pd.concat(
            [
                hand_case["truth"][hand_case["truth"]["image_id"] == s].assign(image_id=t)
                for s, t in copies
            ]
        ),
        pd.concat(
            [
                hand_case["predictions"][hand_case["predictions"]["image_id"] == s].assign(
                    image_id=t
                )
                for s, t in copies
            ]
        ),
        image_ids=[t for _, t in copies],
        categories=["mass"],
    )
    for name, value in expanded.metrics().items():
        assert evaluation.weighted(name, counts[None, :])[0] == pytest.approx(value.value), name
