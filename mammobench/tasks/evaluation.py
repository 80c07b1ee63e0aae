"""Scoring of classification predictions, with confidence intervals over patients.

Predictions come from a protocol as one row per test image. For a breast-level task the
image scores are first averaged over each breast. Every metric gets a percentile bootstrap
interval that resamples patients, so correlated images of one patient are never treated as
independent evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mammobench.metrics import classification
from mammobench.metrics.bootstrap import MetricEstimate, bootstrap_metric
from mammobench.metrics.value import MetricValue
from mammobench.tasks.base import ClassificationTask

# Metric name -> (function, whether it scores class labels rather than positive-class scores).
CLASSIFICATION_METRICS: dict[str, tuple[Callable[..., MetricValue], bool]] = {
    "auc": (classification.auc, False),
    "accuracy": (classification.accuracy, True),
    "macro_f1": (classification.macro_f1, True),
    "balanced_accuracy": (classification.balanced_accuracy, True),
}


@dataclass(frozen=True)
class ScoredMetric:
    """One metric of one cell on one split, with its interval and sample counts."""

    name: str
    estimate: MetricEstimate
    n_eval: int
    n_eval_patients: int


def probability_columns(task: ClassificationTask) -> list[str]:
    """Return the prediction columns of a multi-class task: ``prob_<class>`` per class."""
    return [f"prob_{name}" for name in task.classes]


def evaluate_classification(
    task: ClassificationTask,
    predictions: pd.DataFrame,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    metrics: tuple[str, ...] | None = None,
) -> list[ScoredMetric]:
    """Score ``predictions`` with every metric of ``task``.

    Args:
        task: The task; decides the unit (image or breast) and the metrics.
        predictions: One row per image with ``patient_id``, ``laterality``, ``target`` and
            ``score`` (binary tasks) or ``prob_<class>`` columns (multi-class tasks).
        n_bootstrap: Bootstrap resamples over patients.
        seed: Seed of the bootstrap.
        metrics: Metric names to compute; the task's metrics by default.

    Returns:
        One scored metric per name, in the task's order.
    """
    frame = _to_unit(task, predictions)
    targets = frame["target"].to_numpy().astype(int)
    patients = frame["patient_id"].astype(str).to_numpy()
    scored = []
    for name in metrics or task.metrics:
        function, uses_labels = CLASSIFICATION_METRICS[name]
        if task.binary:
            values = frame["score"].to_numpy(dtype=float)
            if uses_labels:
                values = (values >= 0.5).astype(int)
        else:
            probabilities = frame[probability_columns(task)].to_numpy(dtype=float)
            if not uses_labels:
                raise ValueError(f"metric '{name}' needs a binary task; '{task.name}' has {len(task.classes)} classes")
            values = np.argmax(probabilities, axis=1)
        estimate = bootstrap_metric(function, targets, values, patients, n_resamples=n_bootstrap, seed=seed)
        scored.append(ScoredMetric(name, estimate, int(len(frame)), int(len(set(patients)))))
    return scored


def main_metric_value(task: ClassificationTask, predictions: pd.DataFrame) -> float:
    """Return the task's main metric without an interval (for model selection on validation)."""
    frame = _to_unit(task, predictions)
    name = task.metrics[0]
    function, uses_labels = CLASSIFICATION_METRICS[name]
    targets = frame["target"].to_numpy().astype(int)
    if task.binary:
        values = frame["score"].to_numpy(dtype=float)
        if uses_labels:
            values = (values >= 0.5).astype(int)
    else:
        values = np.argmax(frame[probability_columns(task)].to_numpy(dtype=float), axis=1)
    return function(targets, values).value


def _to_unit(task: ClassificationTask, predictions: pd.DataFrame) -> pd.DataFrame:
    if task.unit == "image":
        return predictions
    score_columns = ["score"] if task.binary else probability_columns(task)
    breasts = classification.breast_level(predictions, score_columns=score_columns, label_column="target")
    return breasts
