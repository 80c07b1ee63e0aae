"""Scoring of FActOR cells: AUC per attribute, hit rates, pointing game and AP, with intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mammobench.factor.names import factor_metric_names
from mammobench.factor.scoring import AttributeOutcomes, score_classification, score_localization


def _boxes(rows, with_score=False):
    columns = ["image_id", "category", "xmin", "ymin", "xmax", "ymax"] + (["score"] if with_score else [])
    return pd.DataFrame(rows, columns=columns)


def _outcomes() -> list[AttributeOutcomes]:
    truth = _boxes([("a", "mass", 10, 10, 20, 20), ("b", "mass", 30, 30, 40, 40), ("c", "mass", 0, 0, 10, 10)])
    predictions = _boxes(
        [
            ("a", "mass", 10, 10, 20, 20, 0.9),  # exact: a hit at both thresholds
            ("b", "mass", 30, 30, 45, 45, 0.8),  # IoU 100/225 = 0.44: a hit at 0.25 only
            ("c", "mass", 50, 50, 60, 60, 0.7),  # no overlap
        ],
        with_score=True,
    )
    mass = AttributeOutcomes("mass", ["a", "b", "c"], truth, predictions, np.array([True, True, False]))
    calc_truth = _boxes([("d", "calcification", 5, 5, 15, 15)])
    calc_predictions = _boxes([("d", "calcification", 5, 5, 15, 15, 0.5)], with_score=True)
    calcification = AttributeOutcomes("calcification", ["d"], calc_truth, calc_predictions, np.array([False]))
    return [mass, calcification]


PATIENTS = {"a": "p1", "b": "p2", "c": "p3", "d": "p4"}


def test_localization_values():
    scored = {metric.name: metric for metric in score_localization(_outcomes(), PATIENTS, n_bootstrap=50, seed=0)}

    assert scored["hit_rate@0.25/mass"].estimate.value.value == pytest.approx(2 / 3)
    assert scored["hit_rate@0.5/mass"].estimate.value.value == pytest.approx(1 / 3)
    assert scored["pointing_game/mass"].estimate.value.value == pytest.approx(2 / 3)
    assert scored["pointing_game/calcification"].estimate.value.value == 0.0
    assert scored["hit_rate@0.25"].estimate.value.value == pytest.approx((2 / 3 + 1.0) / 2)
    assert scored["ap@0.5/calcification"].estimate.value.value == pytest.approx(1.0)


def test_localization_names_match_task():
    scored = score_localization(_outcomes(), PATIENTS, n_bootstrap=20, seed=0)

    assert [metric.name for metric in scored] == factor_metric_names(["mass", "calcification"], localize=True)


def test_localization_counts_evaluated_images():
    scored = {metric.name: metric for metric in score_localization(_outcomes(), PATIENTS, n_bootstrap=20, seed=0)}

    assert scored["hit_rate@0.25/mass"].n_eval == 3
    assert scored["hit_rate@0.25/calcification"].n_eval == 1
    assert scored["hit_rate@0.25"].n_eval == 4
    assert scored["hit_rate@0.25"].n_eval_patients == 4


def test_ap_uses_box_scores():
    truth = _boxes([("a", "mass", 0, 0, 10, 10), ("b", "mass", 0, 0, 10, 10)])
    # The hit on 'a' ranks below a miss on 'b', so precision drops before full recall.
    predictions = _boxes(
        [("a", "mass", 0, 0, 10, 10, 0.2), ("b", "mass", 50, 50, 60, 60, 0.9), ("b", "mass", 0, 0, 10, 10, 0.1)],
        with_score=True,
    )
    outcome = AttributeOutcomes("mass", ["a", "b"], truth, predictions, np.array([True, True]))

    scored = {metric.name: metric for metric in score_localization([outcome], {"a": "p1", "b": "p2"}, n_bootstrap=20, seed=0)}

    assert 0.0 < scored["ap@0.5/mass"].estimate.value.value < 1.0


def test_attribute_without_images_is_undefined():
    empty = AttributeOutcomes("calcification", [], _boxes([]), _boxes([], with_score=True), np.zeros(0, dtype=bool))

    scored = {metric.name: metric for metric in score_localization([_outcomes()[0], empty], PATIENTS, n_bootstrap=20, seed=0)}

    value = scored["hit_rate@0.25/calcification"].estimate.value
    assert math.isnan(value.value)
    assert "calcification" in value.reason
    assert not scored["hit_rate@0.25"].estimate.value.defined
    assert scored["hit_rate@0.25/mass"].estimate.value.defined


def test_intervals_cover_values():
    rng = np.random.default_rng(0)
    rows = []
    for index in range(40):
        image = f"i{index}"
        rows.append((image, "mass", 10, 10, 20, 20))
    truth = _boxes(rows)
    shifts = 12 * (rng.random(40) < 0.4)  # a shift of 12 pixels misses the box
    predictions = _boxes(
        [(r[0], "mass", 10 + shift, 10, 20 + shift, 20, rng.random()) for r, shift in zip(rows, shifts)],
        with_score=True,
    )
    outcome = AttributeOutcomes("mass", [r[0] for r in rows], truth, predictions, rng.random(40) < 0.5)
    patients = {r[0]: f"p{i // 2}" for i, r in enumerate(rows)}

    for metric in score_localization([outcome], patients, n_bootstrap=200, seed=1):
        ci = metric.estimate.ci
        assert ci.defined, metric.name
        assert ci.low <= metric.estimate.value.value <= ci.high, metric.name


def test_classification_auc_per_attribute():
    predictions = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p2", "p3", "p4", "p5"],
            "target_mass": [1, 0, 1, 0, 0, 1],
            "score_mass": [0.9, 0.1, 0.8, 0.3, 0.2, 0.7],
            "target_calcification": [0, 1, 0, 1, 0, 0],
            "score_calcification": [0.6, 0.4, 0.5, 0.3, 0.9, 0.1],
        }
    )

    scored = {m.name: m for m in score_classification(predictions, ["mass", "calcification"], n_bootstrap=100, seed=0)}

    assert scored["auc/mass"].estimate.value.value == 1.0
    assert scored["auc/calcification"].estimate.value.value == pytest.approx(0.25)
    assert scored["auc"].estimate.value.value == pytest.approx((1.0 + 0.25) / 2)
    assert list(scored) == factor_metric_names(["mass", "calcification"], localize=False)
