"""Classification metrics against independent computations and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from mammobench.metrics.classification import (
    accuracy,
    auc,
    balanced_accuracy,
    breast_level,
    macro_f1,
)
from mammobench.metrics.value import MetricInputError, MetricValue


def mann_whitney_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC as the share of (positive, negative) pairs ordered correctly, ties counting half."""
    positives = scores[labels == 1]
    negatives = scores[labels == 0]
    wins = 0.0
    for positive in positives:
        wins += float((positive > negatives).sum()) + 0.5 * float((positive == negatives).sum())
    return wins / (len(positives) * len(negatives))


@pytest.fixture
def fixed_predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    labels = (rng.random(300) < 0.3).astype(int)
    # Rounded scores create ties, which the pair count must handle as one half.
    scores = np.round(rng.normal(size=300) + 0.8 * labels, 1)
    return labels, scores


def test_auc_matches_mann_whitney(fixed_predictions):
    labels, scores = fixed_predictions
    assert auc(labels, scores).value == pytest.approx(mann_whitney_auc(labels, scores), abs=1e-12)


def test_auc_matches_torchmetrics(fixed_predictions):
    labels, scores = fixed_predictions
    # torchmetrics applies a float32 sigmoid to scores outside [0, 1], which can merge close
    # scores; min-max scaling keeps the order and the ties.
    scores = (scores - scores.min()) / (scores.max() - scores.min())
    expected = binary_auroc(torch.tensor(scores), torch.tensor(labels)).item()
    assert auc(labels, scores).value == pytest.approx(expected, abs=1e-6)


def test_auc_one_class_is_nan():
    result = auc([0, 0, 0], [0.1, 0.5, 0.9])
    assert math.isnan(result.value)
    assert "only one class" in result.reason


def test_auc_empty_set_is_nan():
    result = auc([], [])
    assert not result.defined
    assert "no samples" in result.reason


def test_auc_nan_score_is_nan():
    result = auc([0, 1, 1], [0.2, float("nan"), 0.9])
    assert not result.defined
    assert "NaN" in result.reason


def test_auc_unknown_label_raises():
    with pytest.raises(MetricInputError, match="unknown"):
        auc([0, float("nan"), 1], [0.1, 0.2, 0.3])


def test_auc_non_binary_label_raises():
    with pytest.raises(MetricInputError, match="0 or 1"):
        auc([0, 2, 1], [0.1, 0.2, 0.3])


def test_auc_length_mismatch_raises():
    with pytest.raises(MetricInputError, match="one value per sample"):
        auc([0, 1], [0.1, 0.2, 0.3])


def test_density_metrics_hand_computed():
    truth = ["A", "B", "B", "C", "C", "C", "D", "D"]
    predicted = ["B", "B", "B", "C", "C", "D", "D", "D"]
    # Recall: A 0/1, B 2/2, C 2/3, D 2/2.
    assert accuracy(truth, predicted).value == pytest.approx(6 / 8)
    assert balanced_accuracy(truth, predicted).value == pytest.approx((0 + 1 + 2 / 3 + 1) / 4)
    # F1 = 2TP / (true + predicted): A 0, B 4/5, C 4/5, D 4/5.
    assert macro_f1(truth, predicted).value == pytest.approx((0 + 0.8 + 0.8 + 0.8) / 4)


def test_macro_f1_counts_predicted_only_class():
    # Class "D" is predicted once but never true: it adds an F1 of 0 to the mean.
    result = macro_f1(["B", "B", "C"], ["B", "D", "C"])
    assert result.value == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_balanced_accuracy_ignores_predicted_only_class():
    result = balanced_accuracy(["B", "B", "C"], ["B", "D", "C"])
    assert result.value == pytest.approx((0.5 + 1.0) / 2)


def test_multiclass_empty_is_nan():
    for metric in (accuracy, macro_f1, balanced_accuracy):
        assert not metric([], []).defined


def test_multiclass_missing_label_raises():
    with pytest.raises(MetricInputError, match="missing"):
        accuracy(["A", None, "C"], ["A", "B", "C"])


def test_multiclass_mixed_label_types_raise():
    with pytest.raises(MetricInputError, match="same label type"):
        accuracy(["A", "B"], [0, 1])


def test_metric_value_requires_reason_for_nan():
    with pytest.raises(ValueError, match="needs a reason"):
        MetricValue(float("nan"))


def test_breast_level_averages_images():
    images = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1", "p2", "p2"],
            "laterality": ["L", "L", "R", "L", "L"],
            "score": [0.2, 0.6, 0.9, 0.1, 0.3],
            "label": [1, 1, 0, 0, 0],
        }
    )
    breasts = breast_level(images)
    assert list(breasts["breast_id"]) == ["p1/L", "p1/R", "p2/L"]
    assert breasts["score"].tolist() == pytest.approx([0.4, 0.9, 0.2])
    assert breasts["label"].tolist() == [1, 0, 0]
    assert breasts["n_images"].tolist() == [2, 1, 2]


def test_breast_level_keeps_nan_score():
    images = pd.DataFrame(
        {
            "patient_id": ["p1", "p1"],
            "laterality": ["L", "L"],
            "score": [0.5, float("nan")],
            "label": [1, 1],
        }
    )
    breasts = breast_level(images)
    assert math.isnan(breasts["score"].iloc[0])


def test_breast_level_positive_if_any_image():
    images = pd.DataFrame(
        {"patient_id": ["p1", "p1"], "laterality": ["R", "R"], "score": [0.5, 0.7], "label": [0, 1]}
    )
    assert breast_level(images)["label"].iloc[0] == 1


def test_breast_level_missing_column_raises():
    with pytest.raises(MetricInputError, match="laterality"):
        breast_level(pd.DataFrame({"patient_id": ["p1"], "score": [0.1], "label": [0]}))
