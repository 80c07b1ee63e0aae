"""Confidence intervals by bootstrap over patients (cluster bootstrap).

Images of one patient are correlated (two views of each breast, often the same finding), so
resampling images would understate the uncertainty. Each resample instead draws patients with
replacement, as many as there are, and takes every image of each drawn patient as often as the
patient was drawn. A resample is therefore a vector of integer weights over the images, and a
statistic that accepts a weight matrix evaluates all resamples in a few array operations.

The interval is the percentile interval of the resampled values. Resamples in which the metric is
undefined (for AUC: no positive or no negative image was drawn) are skipped, and the number used
is reported, because a CI built from few resamples deserves less trust.

Weights are drawn in chunks whose size depends only on the data size, so a given seed and data
always produce the same resamples, whichever statistic is evaluated on them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from mammobench.metrics import classification, weighted
from mammobench.metrics.value import MetricInputError, MetricValue

logger = logging.getLogger(__name__)

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95

# Weight-matrix entries evaluated at once: 1M float64 entries are 8 MiB per array. Larger chunks
# were slower on a 2-core CPU because of page faults on the temporary arrays.
_MAX_CHUNK_ELEMENTS = 1 << 20

# Log a warning when more than this share of resamples is skipped as undefined.
_SKIPPED_SHARE_WARNING = 0.1

WeightedStatistic = Callable[[np.ndarray], np.ndarray]
"""A statistic of weights of shape ``(n_resamples, n_samples)``, returning ``(n_resamples,)``
values with NaN where it is undefined."""

MetricFunction = Callable[[np.ndarray, np.ndarray], MetricValue | float]

# Metrics with a vectorised weighted form; any other metric function is evaluated per resample.
_WEIGHTED_FORMS: dict[Callable[..., MetricValue], Callable[..., np.ndarray]] = {
    classification.auc: weighted.weighted_auc,
    classification.accuracy: weighted.weighted_accuracy,
    classification.macro_f1: weighted.weighted_macro_f1,
    classification.balanced_accuracy: weighted.weighted_balanced_accuracy,
}


# Reason given for the interval of a metric that is undefined on the evaluated set.
UNDEFINED_METRIC = "the metric is undefined on the evaluated set"


@dataclass(frozen=True)
class BootstrapCI:
    """A bootstrap confidence interval.

    Attributes:
        low: Lower bound; NaN when the interval is undefined.
        high: Upper bound; NaN when the interval is undefined.
        confidence: Coverage, e.g. 0.95.
        n_resamples: Resamples drawn.
        n_used: Resamples in which the statistic was defined; the interval uses only these.
        method: How the interval was computed, e.g. "percentile bootstrap over patients".
        reason: Why the interval is undefined, or None.
        values: The statistic in each used resample.
    """

    low: float
    high: float
    confidence: float
    n_resamples: int
    n_used: int
    method: str
    reason: str | None = None
    values: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def defined(self) -> bool:
        """True when both bounds are numbers."""
        return self.reason is None


@dataclass(frozen=True)
class MetricEstimate:
    """A metric on the evaluated set and its bootstrap confidence interval."""

    value: MetricValue
    ci: BootstrapCI


@dataclass(frozen=True)
class PairedEstimate:
    """The difference of one metric between two models on the same samples.

    Attributes:
        difference: Metric of model A minus metric of model B on the full set.
        ci: Bootstrap interval of the difference; both models see the same resamples.
        p_value: Two-sided bootstrap p-value for "no difference": twice the smaller share of
            resampled differences on either side of zero, with a +1 correction so it is never
            0. An approximation; None when the interval is undefined.
    """

    difference: MetricValue
    ci: BootstrapCI
    p_value: float | None


def cluster_bootstrap(
    statistic: WeightedStatistic,
    groups: ArrayLike | None = None,
    *,
    n_samples: int | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    unit: str = "patient",
) -> BootstrapCI:
    """Compute a percentile confidence interval by resampling groups of samples.

    Args:
        statistic: Maps a weight matrix ``(n_resamples, n_samples)`` to one value per row
            (NaN where undefined). Use :func:`per_resample` to wrap a function of indices.
        groups: The group (patient id) of each sample. ``None`` makes every sample its own
            group, i.e. an ordinary bootstrap; then ``n_samples`` is required.
        n_samples: Number of samples when ``groups`` is None.
        n_resamples: Resamples to draw.
        confidence: Coverage of the interval, between 0 and 1.
        seed: Seed of the random generator; the same seed and data give the same interval.
        unit: Name of the resampled unit, used in ``BootstrapCI.method``.

    Returns:
        The interval, or an undefined one (NaN bounds with a reason) when there are no samples
        or the statistic is undefined in every resample.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1; got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence}")
    codes, n_groups = _group_codes(groups, n_samples)
    method = f"percentile bootstrap over {unit}s"
    if n_groups == 0:
        return undefined_ci("no samples to resample", confidence, n_resamples, method)

    rng = np.random.default_rng(seed)
    chunks = [
        statistic(weights) for weights in _resample_weights(codes, n_groups, n_resamples, rng)
    ]
    values = np.concatenate(chunks).astype(float)
    if values.shape != (n_resamples,):
        raise ValueError(
            f"the statistic returned {values.shape[0]} values for {n_resamples} resamples; "
            "it must return one value per row of the weight matrix"
        )

    used = values[np.isfinite(values)]
    skipped = n_resamples - used.size
    if used.size == 0:
        return undefined_ci(
            "the metric is undefined in every resample", confidence, n_resamples, method
        )
    if skipped > _SKIPPED_SHARE_WARNING * n_resamples:
        logger.warning(
            "%d of %d bootstrap resamples skipped because the metric is undefined in them; "
            "the interval rests on %d resamples",
            skipped,
            n_resamples,
            used.size,
        )

    alpha = 1.0 - confidence
    low, high = np.quantile(used, [alpha / 2.0, 1.0 - alpha / 2.0])
    return BootstrapCI(
        low=float(low),
        high=float(high),
        confidence=confidence,
        n_resamples=n_resamples,
        n_used=int(used.size),
        method=method,
        values=used,
    )


def bootstrap_metric(
    metric: MetricFunction,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    unit: str = "patient",
) -> MetricEstimate:
    """Compute a metric and its bootstrap confidence interval over patients.

    The classification metrics of :mod:`mammobench.metrics.classification` run vectorised over
    all resamples. Any other ``metric(y_true, y_pred)`` runs once per resample on the resampled
    rows, and its ``y_pred`` may be two-dimensional (e.g. class probabilities).

    Args:
        metric: Function of (true labels, predictions) returning a MetricValue or float.
        y_true: True labels, one per sample.
        y_pred: Predictions (scores or labels), one row per sample.
        groups: Patient id of each sample; ``None`` resamples samples independently.
        n_resamples: Resamples to draw.
        confidence: Coverage of the interval.
        seed: Seed of the random generator.
        unit: Name of the resampled unit, for the method text.

    Returns:
        The metric on all samples and its interval. When the metric is undefined on all samples,
        the interval is undefined too.
    """
    truth = np.asarray(y_true)
    predictions = np.asarray(y_pred)
    value = _as_metric_value(metric(truth, predictions))
    method = f"percentile bootstrap over {unit}s"
    if not value.defined:
        ci = undefined_ci(
            UNDEFINED_METRIC, confidence, n_resamples, method
        )
        return MetricEstimate(value, ci)

    statistic = _statistic_for(metric, truth, predictions)
    ci = cluster_bootstrap(
        statistic,
        groups,
        n_samples=truth.shape[0],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        unit=unit,
    )
    return MetricEstimate(value, ci)


def paired_bootstrap_metric(
    metric: MetricFunction,
    y_true: ArrayLike,
    y_pred_a: ArrayLike,
    y_pred_b: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    unit: str = "patient",
) -> PairedEstimate:
    """Compare two models on the same samples: metric(A) - metric(B) with a paired interval.

    Both models are scored on each resample, so the interval accounts for the correlation
    between their errors and is narrower than comparing two separate intervals. A resample in
    which either metric is undefined is skipped.

    Args:
        metric: Function of (true labels, predictions) returning a MetricValue or float.
        y_true: True labels, one per sample.
        y_pred_a: Predictions of model A, aligned with ``y_true``.
        y_pred_b: Predictions of model B, aligned with ``y_true``.
        groups: Patient id of each sample; ``None`` resamples samples independently.
        n_resamples: Resamples to draw.
        confidence: Coverage of the interval.
        seed: Seed of the random generator.
        unit: Name of the resampled unit, for the method text.

    Returns:
        The difference, its interval and a two-sided bootstrap p-value.
    """
    truth = np.asarray(y_true)
    predictions_a = np.asarray(y_pred_a)
    predictions_b = np.asarray(y_pred_b)
    if predictions_a.shape[0] != predictions_b.shape[0]:
        raise MetricInputError(
            f"model A has {predictions_a.shape[0]} predictions but model B has "
            f"{predictions_b.shape[0]}; compare models on the same samples"
        )
    value_a = _as_metric_value(metric(truth, predictions_a))
    value_b = _as_metric_value(metric(truth, predictions_b))
    method = f"paired percentile bootstrap over {unit}s"
    if not (value_a.defined and value_b.defined):
        reason = value_a.reason if not value_a.defined else value_b.reason
        difference = MetricValue.undefined(f"the metric is undefined for a model: {reason}")
        ci = undefined_ci(
            UNDEFINED_METRIC, confidence, n_resamples, method
        )
        return PairedEstimate(difference, ci, None)

    statistic_a = _statistic_for(metric, truth, predictions_a)
    statistic_b = _statistic_for(metric, truth, predictions_b)
    ci = cluster_bootstrap(
        lambda weights: statistic_a(weights) - statistic_b(weights),
        groups,
        n_samples=truth.shape[0],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        unit=unit,
    )
    ci = replace(ci, method=method)
    difference = MetricValue(value_a.value - value_b.value)
    return PairedEstimate(difference, ci, _bootstrap_p_value(ci))


def bootstrap_mean(
    values: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    unit: str = "patient",
) -> MetricEstimate:
    """Compute the mean of per-sample outcomes (e.g. hits at IoU 0.25) with a bootstrap interval.

    Args:
        values: One finite number or boolean per sample.
        groups: Patient id of each sample; ``None`` resamples samples independently.
        n_resamples: Resamples to draw.
        confidence: Coverage of the interval.
        seed: Seed of the random generator.
        unit: Name of the resampled unit, for the method text.

    Returns:
        The mean (NaN with a reason when there are no samples) and its interval.

    Raises:
        MetricInputError: An outcome is NaN or infinite.
    """
    outcomes = np.asarray(values, dtype=float)
    if outcomes.ndim != 1:
        raise MetricInputError(f"outcomes must be one-dimensional; got shape {outcomes.shape}")
    if not np.isfinite(outcomes).all():
        raise MetricInputError(
            "outcomes contain NaN or infinite values; pass one number per sample"
        )

    def mean(truth: np.ndarray, predictions: np.ndarray) -> MetricValue:
        if predictions.size == 0:
            return MetricValue.undefined("no samples in the evaluated set")
        return MetricValue(float(predictions.mean()))

    def weighted_mean(weights: np.ndarray) -> np.ndarray:
        totals = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, (weights @ outcomes) / totals, np.nan)

    value = mean(outcomes, outcomes)
    method = f"percentile bootstrap over {unit}s"
    if not value.defined:
        return MetricEstimate(
            value, undefined_ci("no samples to resample", confidence, n_resamples, method)
        )
    ci = cluster_bootstrap(
        weighted_mean,
        groups,
        n_samples=outcomes.size,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        unit=unit,
    )
    return MetricEstimate(value, ci)


def per_resample(function: Callable[[np.ndarray], MetricValue | float]) -> WeightedStatistic:
    """Wrap a function of resampled sample indices as a weighted statistic.

    Each weight row becomes an index array in which sample i appears ``weights[i]`` times, and
    ``function`` is called once per row. Use this for metrics without a vectorised form.
    """

    def statistic(weights: np.ndarray) -> np.ndarray:
        counts = np.asarray(weights)
        if not np.array_equal(counts, np.round(counts)):
            raise ValueError("per_resample needs integer weights (resample counts)")
        counts = counts.astype(np.int64)
        positions = np.arange(counts.shape[1])
        values = np.empty(counts.shape[0])
        for row, row_counts in enumerate(counts):
            indices = np.repeat(positions, row_counts)
            values[row] = _as_metric_value(function(indices)).value
        return values

    return statistic


def _statistic_for(
    metric: MetricFunction, truth: np.ndarray, predictions: np.ndarray
) -> WeightedStatistic:
    weighted_form = _WEIGHTED_FORMS.get(metric)
    if weighted_form is not None:
        return lambda weights: weighted_form(truth, predictions, weights)
    return per_resample(lambda indices: metric(truth[indices], predictions[indices]))


def _resample_weights(
    codes: np.ndarray, n_groups: int, n_resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield chunks of per-sample weights: how often each sample's group was drawn."""
    chunk_size = max(1, _MAX_CHUNK_ELEMENTS // max(codes.size, n_groups))
    for start in range(0, n_resamples, chunk_size):
        size = min(chunk_size, n_resamples - start)
        drawn = rng.integers(0, n_groups, size=(size, n_groups))
        # Offset each row's draws so one bincount counts all rows at once.
        offsets = (np.arange(size) * n_groups)[:, None]
        counts = np.bincount((drawn + offsets).ravel(), minlength=size * n_groups)
        yield counts.reshape(size, n_groups)[:, codes]


def _group_codes(groups: ArrayLike | None, n_samples: int | None) -> tuple[np.ndarray, int]:
    if groups is None:
        if n_samples is None:
            raise ValueError("pass groups (the patient id of each sample) or n_samples")
        return np.arange(n_samples), n_samples
    group_values = np.asarray(groups)
    if group_values.ndim != 1:
        raise MetricInputError(f"groups must be one-dimensional; got shape {group_values.shape}")
    if n_samples is not None and group_values.size != n_samples:
        raise MetricInputError(
            f"groups has {group_values.size} entries for {n_samples} samples; pass one patient "
            "id per sample"
        )
    if pd.isna(group_values).any():
        raise MetricInputError("groups contain a missing patient id; every sample needs one")
    codes, uniques = pd.factorize(group_values, sort=True)
    return codes, len(uniques)


def undefined_ci(reason: str, confidence: float, n_resamples: int, method: str) -> BootstrapCI:
    """Return the interval of a metric that has no value: NaN bounds, no used resamples and ``reason``."""
    return BootstrapCI(
        low=float("nan"),
        high=float("nan"),
        confidence=confidence,
        n_resamples=n_resamples,
        n_used=0,
        method=method,
        reason=reason,
    )


def _bootstrap_p_value(ci: BootstrapCI) -> float | None:
    if not ci.defined:
        return None
    n = ci.values.size
    at_or_below = int((ci.values <= 0).sum())
    at_or_above = int((ci.values >= 0).sum())
    return min(1.0, 2.0 * (min(at_or_below, at_or_above) + 1) / (n + 1))


def _as_metric_value(result: MetricValue | float) -> MetricValue:
    if isinstance(result, MetricValue):
        return result
    number = float(result)
    if np.isfinite(number):
        return MetricValue(number)
    return MetricValue.undefined("the metric function returned a non-finite value")
