"""Scoring of predicted boxes: COCO AP and FROC, with confidence intervals over patients.

pycocotools runs once per evaluated set (:func:`mammobench.metrics.detection.evaluate_detection`)
and the FROC matching once (:func:`mammobench.metrics.froc.evaluate_froc`). Both keep a table of
per-detection matches, so a bootstrap resample over patients, which is a vector of integer
weights over the images, is scored by reweighting that table instead of rerunning the
evaluation. 1,000 resamples of all 27 metrics of a two-category task take seconds.

A metric that is undefined on the evaluated set (no ground-truth box of a category) is NaN with a
reason and has no interval.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mammobench.detection.names import AP_IOU_KEYS, FROC_FP_RATES
from mammobench.metrics.bootstrap import (
    DEFAULT_CONFIDENCE,
    UNDEFINED_METRIC,
    MetricEstimate,
    cluster_bootstrap,
    undefined_ci,
)
from mammobench.metrics.detection import DetectionEvaluation, evaluate_detection
from mammobench.metrics.froc import FROCEvaluation, evaluate_froc
from mammobench.metrics.value import MetricValue
from mammobench.tasks.evaluation import ScoredMetric

logger = logging.getLogger(__name__)

# IoU thresholds reported besides COCO's 0.5:0.95 range.
EXTRA_IOU_THRESHOLDS = tuple(float(key) for key in AP_IOU_KEYS if ":" not in key)

BOOTSTRAP_METHOD = "percentile bootstrap over patients"

# Share of skipped (undefined) resamples above which an interval is reported as thin.
_SKIPPED_SHARE_WARNING = 0.1


@dataclass
class DetectionScores:
    """AP and FROC of one set of predictions, resamplable by image weights.

    Attributes:
        image_ids: Evaluated images, in the order weight vectors follow.
        ap: The pycocotools evaluation.
        froc: The FROC evaluation.
    """

    image_ids: tuple[str, ...]
    ap: DetectionEvaluation
    froc: FROCEvaluation
    categories: tuple[str, ...] = ()
    _per_category: dict[tuple[str, str, bytes], np.ndarray] = field(default_factory=dict, repr=False)

    def value(self, name: str) -> MetricValue:
        """Return the metric called ``name`` (see :mod:`mammobench.detection.names`)."""
        if name.startswith("ap@"):
            return self.ap.metrics()[name]
        return self.froc.metrics()[name]

    def weighted(self, name: str, weights: np.ndarray) -> np.ndarray:
        """Compute ``name`` for each row of image weights (one bootstrap resample per row).

        A mean over categories averages the per-category values that are defined in a row, as
        the evaluations themselves do. Per-category values are kept for the weights they were
        computed on, because every metric of a cell sees the same resamples and a mean and its
        categories would otherwise repeat the same work.
        """
        base, _, category = name.partition("/")
        if category or not self.categories:
            return self._category_values(base, category, weights)

        per_category = np.stack([self._category_values(base, item, weights) for item in self.categories])
        defined = np.isfinite(per_category)
        counts = defined.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, np.where(defined, per_category, 0.0).sum(axis=0) / counts, np.nan)

    def _category_values(self, base: str, category: str, weights: np.ndarray) -> np.ndarray:
        name = f"{base}/{category}" if category else base
        key = (base, category, hashlib.sha1(np.ascontiguousarray(weights).tobytes()).digest())
        if key not in self._per_category:
            evaluation = self.ap if base.startswith("ap@") else self.froc
            self._per_category[key] = evaluation.weighted(name, weights)
        return self._per_category[key]

    def clear_cache(self) -> None:
        """Forget the per-category values kept by :meth:`weighted`."""
        self._per_category.clear()


def evaluate_boxes(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    image_ids: Sequence[str],
    categories: Sequence[str],
    max_detections: int,
) -> DetectionScores:
    """Match predictions to ground truth for AP (pycocotools) and FROC.

    Args:
        ground_truth: Box table of the evaluated images (``image_id``, ``category``, coordinates).
        predictions: Box table with a ``score`` column; may be empty.
        image_ids: Every evaluated image, including images without ground truth, whose
            predictions are false positives.
        categories: The task's categories.
        max_detections: pycocotools ``maxDets``, per image and category.
    """
    image_ids = tuple(str(image_id) for image_id in image_ids)
    predictions = _box_columns(predictions, with_score=True)
    ground_truth = _box_columns(ground_truth, with_score=False)
    ap = evaluate_detection(
        ground_truth,
        predictions,
        image_ids=image_ids,
        categories=categories,
        iou_thresholds=EXTRA_IOU_THRESHOLDS,
        max_detections=max_detections,
    )
    froc = evaluate_froc(
        ground_truth, predictions, image_ids=image_ids, categories=categories, fp_rates=FROC_FP_RATES
    )
    return DetectionScores(image_ids, ap, froc, tuple(categories))


def score_with_intervals(
    scores: DetectionScores,
    names: Sequence[str],
    patient_ids: Sequence[str],
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float = DEFAULT_CONFIDENCE,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScoredMetric]:
    """Score every metric in ``names`` with a percentile bootstrap interval over patients.

    Every metric uses the same resamples, because the weights depend only on the seed and the
    patients.

    Args:
        scores: The evaluation.
        names: Metric names to report, e.g. ``["ap@0.25", "froc_mean"]``.
        patient_ids: Patient of each image of ``scores.image_ids``, in that order.
        n_bootstrap: Resamples.
        seed: Seed of the resampling.
        confidence: Coverage of the intervals.
        progress: Called as ``progress(done, total)`` after each metric.
    """
    patients = np.asarray([str(patient) for patient in patient_ids])
    if len(patients) != len(scores.image_ids):
        raise ValueError(f"{len(patients)} patient ids for {len(scores.image_ids)} evaluated images")
    n_patients = len(set(patients.tolist()))

    scored = []
    thin: list[str] = []
    for name in names:
        value = scores.value(name)
        if value.defined:
            with _quiet_skip_warnings():
                ci = cluster_bootstrap(
                    functools.partial(scores.weighted, name),
                    patients,
                    n_resamples=n_bootstrap,
                    confidence=confidence,
                    seed=seed,
                )
            if ci.n_used < (1.0 - _SKIPPED_SHARE_WARNING) * n_bootstrap:
                thin.append(f"{name} ({ci.n_used})")
        else:
            ci = undefined_ci(UNDEFINED_METRIC, confidence, n_bootstrap, BOOTSTRAP_METHOD)
        scored.append(ScoredMetric(name, MetricEstimate(value, ci), len(scores.image_ids), n_patients))
        if progress is not None:
            progress(len(scored), len(names))

    scores.clear_cache()
    if thin:
        logger.warning(
            "some bootstrap resamples draw no patient with a lesion of a category, so these "
            "intervals rest on fewer than %d resamples: %s",
            n_bootstrap,
            ", ".join(thin),
        )
    return scored


@contextlib.contextmanager
def _quiet_skip_warnings() -> Iterator[None]:
    """Hold back the bootstrap's per-metric warning about skipped resamples.

    :func:`score_with_intervals` reports every thin interval in one warning instead of up to
    one per metric.
    """
    bootstrap_logger = logging.getLogger(cluster_bootstrap.__module__)
    bootstrap_logger.addFilter(_drop_skip_warning)
    try:
        yield
    finally:
        bootstrap_logger.removeFilter(_drop_skip_warning)


def _drop_skip_warning(record: logging.LogRecord) -> bool:
    return "bootstrap resamples skipped" not in record.getMessage()


def _box_columns(frame: pd.DataFrame, *, with_score: bool) -> pd.DataFrame:
    columns = ["image_id", "category", "xmin", "ymin", "xmax", "ymax"] + (["score"] if with_score else [])
    if frame is None or frame.empty:
        return pd.DataFrame({column: pd.Series(dtype=str if column in ("image_id", "category") else float) for column in columns})
    return frame[columns]
