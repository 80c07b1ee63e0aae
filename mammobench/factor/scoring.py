"""Scores of the ``factor`` protocol with percentile bootstrap intervals over patients.

Classification (``vindr-factor``): AUC of each attribute's image scores over every test image,
``auc/<attribute>``, and their mean ``auc``.

Localization (``vindr-factor-loc``), on the test images that have the attribute and its boxes:

- ``hit_rate@0.25/<attribute>`` and ``hit_rate@0.5/<attribute>``: share of images where some
  predicted box has IoU at least 0.25 (0.5) with some ground-truth box of the attribute;
- ``pointing_game/<attribute>``: share of images whose heatmap maximum lies inside a
  ground-truth box;
- ``ap@0.25/<attribute>`` and ``ap@0.5/<attribute>``: COCO AP of the scored boxes through
  pycocotools (:func:`mammobench.metrics.detection.evaluate_detection`), as the detection tasks
  compute it;

and the same names without ``/<attribute>`` for the mean over attributes.

Every metric of a cell uses the same resamples (same patients, same seed). A mean over
attributes is complete-case: it is undefined on the evaluated set, and in a resample, whenever
one attribute's value is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mammobench.factor.names import AP_IOU_KEYS, HIT_IOUS, LOCALIZATION_BASES, POINTING
from mammobench.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    UNDEFINED_METRIC,
    MetricEstimate,
    cluster_bootstrap,
    undefined_ci,
)
from mammobench.metrics.classification import auc
from mammobench.metrics.detection import DetectionEvaluation, evaluate_detection
from mammobench.metrics.localization import iou_hits
from mammobench.metrics.value import MetricValue
from mammobench.metrics.weighted import weighted_auc
from mammobench.tasks.evaluation import ScoredMetric

BOOTSTRAP_METHOD = "percentile bootstrap over patients"

WeightedStatistic = Callable[[np.ndarray], np.ndarray]


def score_classification(
    predictions: pd.DataFrame,
    attributes: Sequence[str],
    *,
    n_bootstrap: int,
    seed: int,
) -> list[ScoredMetric]:
    """Score attribute classification: AUC per attribute and their mean, with intervals.

    Args:
        predictions: One row per test image with ``patient_id`` and, per attribute,
            ``target_<attribute>`` (0/1) and ``score_<attribute>``.
        attributes: The attributes, in report order.
        n_bootstrap: Resamples over patients.
        seed: Seed of the resampling.
    """
    patients = predictions["patient_id"].astype(str).to_numpy()
    n_eval, n_patients = len(predictions), len(set(patients.tolist()))
    values: dict[str, MetricValue] = {}
    statistics: dict[str, WeightedStatistic] = {}
    for attribute in attributes:
        targets = predictions[f"target_{attribute}"].to_numpy().astype(int)
        scores = predictions[f"score_{attribute}"].to_numpy(dtype=float)
        values[attribute] = auc(targets, scores)
        statistics[attribute] = _auc_statistic(targets, scores)

    scored = [
        _scored(
            "auc",
            _complete_mean([values[a] for a in attributes], attributes),
            _mean_statistic([statistics[a] for a in attributes]),
            patients,
            n_eval,
            n_patients,
            n_bootstrap,
            seed,
        )
    ]
    for attribute in attributes:
        scored.append(
            _scored(f"auc/{attribute}", values[attribute], statistics[attribute], patients, n_eval, n_patients, n_bootstrap, seed)
        )
    return scored


@dataclass
class AttributeOutcomes:
    """Localization outcomes of one attribute on its evaluated images.

    Attributes:
        attribute: Attribute name (also the box category).
        image_ids: Evaluated images: test images with the attribute and at least one of its
            boxes, in the order of the arrays below.
        ground_truth: Box table of the attribute's boxes on those images (processed pixels).
        predictions: Box table of predicted boxes with ``score`` (processed pixels).
        pointing_hits: Per image, whether the heatmap maximum lies in a ground-truth box.
    """

    attribute: str
    image_ids: list[str]
    ground_truth: pd.DataFrame
    predictions: pd.DataFrame
    pointing_hits: np.ndarray

    def hits(self) -> pd.DataFrame:
        """Return per-image IoU hits at :data:`HIT_IOUS`, one row per image in order."""
        outcomes = iou_hits(self.ground_truth, self.predictions, HIT_IOUS)
        return outcomes.set_index("image_id").reindex(self.image_ids).reset_index()

    def ap(self) -> DetectionEvaluation:
        """Return the pycocotools evaluation of the predicted boxes on the evaluated images."""
        return evaluate_detection(
            self.ground_truth,
            self.predictions,
            image_ids=self.image_ids,
            categories=[self.attribute],
            iou_thresholds=tuple(float(key) for key in AP_IOU_KEYS),
        )


def score_localization(
    outcomes: Sequence[AttributeOutcomes],
    patient_of: Mapping[str, str],
    *,
    n_bootstrap: int,
    seed: int,
) -> list[ScoredMetric]:
    """Score weakly supervised localization: hit rates, pointing game and AP per attribute and mean.

    Args:
        outcomes: One entry per attribute, in report order.
        patient_of: Patient id of every evaluated image.
        n_bootstrap: Resamples over patients.
        seed: Seed of the resampling.
    """
    union = sorted({image_id for outcome in outcomes for image_id in outcome.image_ids})
    position = {image_id: index for index, image_id in enumerate(union)}
    patients = np.asarray([patient_of[image_id] for image_id in union])

    per_attribute: dict[str, dict[str, tuple[MetricValue, WeightedStatistic]]] = {}
    for outcome in outcomes:
        columns = np.asarray([position[image_id] for image_id in outcome.image_ids], dtype=np.int64)
        per_attribute[outcome.attribute] = _attribute_statistics(outcome, columns)

    scored = []
    attributes = [outcome.attribute for outcome in outcomes]
    for base in LOCALIZATION_BASES:
        value = _complete_mean([per_attribute[a][base][0] for a in attributes], attributes)
        statistic = _mean_statistic([per_attribute[a][base][1] for a in attributes])
        scored.append(_scored(base, value, statistic, patients, len(union), len(set(patients.tolist())), n_bootstrap, seed))
    for outcome in outcomes:
        image_patients = [patient_of[image_id] for image_id in outcome.image_ids]
        for base in LOCALIZATION_BASES:
            value, statistic = per_attribute[outcome.attribute][base]
            scored.append(
                _scored(
                    f"{base}/{outcome.attribute}",
                    value,
                    statistic,
                    patients,
                    len(outcome.image_ids),
                    len(set(image_patients)),
                    n_bootstrap,
                    seed,
                )
            )
    return scored


def _attribute_statistics(
    outcome: AttributeOutcomes, columns: np.ndarray
) -> dict[str, tuple[MetricValue, WeightedStatistic]]:
    """Value and weighted statistic (over the union's images) of every metric of one attribute."""
    results: dict[str, tuple[MetricValue, WeightedStatistic]] = {}
    if not outcome.image_ids:
        reason = f"no test images with a '{outcome.attribute}' box"
        for base in LOCALIZATION_BASES:
            results[base] = (MetricValue.undefined(reason), _undefined_statistic)
        return results

    hits = outcome.hits()
    for threshold in HIT_IOUS:
        column = hits[f"hit@{threshold:g}"].astype(float).to_numpy()
        results[f"hit_rate@{threshold:g}"] = (MetricValue(float(column.mean())), _mean_of(column, columns))
    pointing = np.asarray(outcome.pointing_hits, dtype=float)
    results[POINTING] = (MetricValue(float(pointing.mean())), _mean_of(pointing, columns))

    evaluation = outcome.ap()
    for key in AP_IOU_KEYS:
        name = f"ap@{key}"
        results[name] = (evaluation.ap(key), _ap_statistic(evaluation, name, columns))
    return results


def _mean_of(values: np.ndarray, columns: np.ndarray) -> WeightedStatistic:
    def statistic(weights: np.ndarray) -> np.ndarray:
        selected = weights[:, columns]
        totals = selected.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, (selected @ values) / totals, np.nan)

    return statistic


def _ap_statistic(evaluation: DetectionEvaluation, name: str, columns: np.ndarray) -> WeightedStatistic:
    def statistic(weights: np.ndarray) -> np.ndarray:
        return evaluation.weighted(name, weights[:, columns])

    return statistic


def _auc_statistic(targets: np.ndarray, scores: np.ndarray) -> WeightedStatistic:
    def statistic(weights: np.ndarray) -> np.ndarray:
        return weighted_auc(targets, scores, weights)

    return statistic


def _mean_statistic(statistics: Sequence[WeightedStatistic]) -> WeightedStatistic:
    def statistic(weights: np.ndarray) -> np.ndarray:
        # A NaN in any attribute makes the row's mean NaN: complete-case means only.
        return np.mean(np.stack([function(weights) for function in statistics]), axis=0)

    return statistic


def _undefined_statistic(weights: np.ndarray) -> np.ndarray:
    return np.full(weights.shape[0], np.nan)


def _complete_mean(values: Sequence[MetricValue], attributes: Sequence[str]) -> MetricValue:
    undefined = [(attribute, value) for attribute, value in zip(attributes, values, strict=True) if not value.defined]
    if not values:
        return MetricValue.undefined("no attributes to average")
    if undefined:
        attribute, value = undefined[0]
        return MetricValue.undefined(f"the mean needs every attribute; '{attribute}' is undefined: {value.reason}")
    return MetricValue(float(np.mean([value.value for value in values])))


def _scored(
    name: str,
    value: MetricValue,
    statistic: WeightedStatistic,
    patients: np.ndarray,
    n_eval: int,
    n_patients: int,
    n_bootstrap: int,
    seed: int,
) -> ScoredMetric:
    if value.defined and patients.size:
        ci = cluster_bootstrap(statistic, patients, n_resamples=n_bootstrap, seed=seed)
    else:
        ci = undefined_ci(UNDEFINED_METRIC, DEFAULT_CONFIDENCE, n_bootstrap, BOOTSTRAP_METHOD)
    return ScoredMetric(name, MetricEstimate(value, ci), n_eval, n_patients)
