"""Classification metrics for many sample-weight vectors at once, used by the bootstrap.

A bootstrap resample that draws a patient k times equals the original set with weight k on each
of that patient's images. Each function here takes a weight matrix of shape
``(n_resamples, n_samples)`` and returns one value per row, NaN where the metric is undefined in
that row. With all weights 1 the values equal the scikit-learn metrics in
:mod:`mammobench.metrics.classification`; the tests check this on fixed predictions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mammobench.metrics.classification import binary_labels


def weighted_auc(y_true: ArrayLike, y_score: ArrayLike, weights: np.ndarray) -> np.ndarray:
    """Compute the ROC AUC for each row of ``weights``.

    The AUC is the weighted share of (positive, negative) pairs in which the positive scores
    higher, with ties counting one half (the Mann-Whitney statistic). Scores are sorted once and
    every row reuses that order, so the cost is a few array passes per row.

    Args:
        y_true: Binary labels, shape ``(n_samples,)``.
        y_score: Scores, shape ``(n_samples,)``.
        weights: Non-negative weights, shape ``(n_resamples, n_samples)``.

    Returns:
        AUC per row; NaN where a row has no positive or no negative weight, or where any score
        is non-finite.
    """
    labels = binary_labels(y_true)
    scores = np.asarray(y_score, dtype=float)
    weights = _check_weights(weights, labels.size)
    if not np.isfinite(scores).all() or labels.size == 0:
        return np.full(weights.shape[0], np.nan)

    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    sorted_labels = labels[order]
    sorted_weights = weights[:, order]

    # Samples with equal scores form one tie group; reduceat sums the weights of each group.
    group_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    positive = np.add.reduceat(sorted_weights * sorted_labels, group_starts, axis=1)
    negative = np.add.reduceat(sorted_weights, group_starts, axis=1) - positive

    negatives_below = np.cumsum(negative, axis=1) - negative
    wins = (positive * (negatives_below + 0.5 * negative)).sum(axis=1)
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def weighted_confusion(y_true: ArrayLike, y_pred: ArrayLike, weights: np.ndarray) -> np.ndarray:
    """Compute one weighted confusion matrix per row of ``weights``.

    Classes are the sorted union of the labels in ``y_true`` and ``y_pred``.

    Returns:
        Array of shape ``(n_resamples, n_classes, n_classes)``; entry ``[b, i, j]`` is the weight
        of samples with true class i predicted as class j.
    """
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    weights = _check_weights(weights, truth.size)
    classes, codes = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    n_classes = classes.size
    true_codes = codes[: truth.size]
    predicted_codes = codes[truth.size :]

    pair_codes = true_codes * n_classes + predicted_codes
    indicator = np.zeros((truth.size, n_classes * n_classes))
    indicator[np.arange(truth.size), pair_codes] = 1.0
    return (weights @ indicator).reshape(weights.shape[0], n_classes, n_classes)


def weighted_accuracy(y_true: ArrayLike, y_pred: ArrayLike, weights: np.ndarray) -> np.ndarray:
    """Compute accuracy for each row of ``weights``; NaN where a row has zero total weight."""
    confusion = weighted_confusion(y_true, y_pred, weights)
    correct = np.trace(confusion, axis1=1, axis2=2)
    total = confusion.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, correct / total, np.nan)


def weighted_balanced_accuracy(
    y_true: ArrayLike, y_pred: ArrayLike, weights: np.ndarray
) -> np.ndarray:
    """Compute the mean recall over classes with non-zero true weight, for each row."""
    confusion = weighted_confusion(y_true, y_pred, weights)
    true_totals = confusion.sum(axis=2)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    present = true_totals > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, hits / true_totals, 0.0)
        return np.where(present.any(axis=1), recall.sum(axis=1) / present.sum(axis=1), np.nan)


def weighted_macro_f1(y_true: ArrayLike, y_pred: ArrayLike, weights: np.ndarray) -> np.ndarray:
    """Compute macro-F1 for each row over the classes that are true or predicted in that row.

    Matches scikit-learn's ``f1_score(average="macro", zero_division=0)`` on the resampled set:
    F1 of a class is ``2 TP / (2 TP + FP + FN)``, which is 0 for a class that is predicted but
    never true.
    """
    confusion = weighted_confusion(y_true, y_pred, weights)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    true_totals = confusion.sum(axis=2)
    predicted_totals = confusion.sum(axis=1)
    denominators = true_totals + predicted_totals
    present = denominators > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2.0 * hits / denominators, 0.0)
        return np.where(present.any(axis=1), f1.sum(axis=1) / present.sum(axis=1), np.nan)


def _check_weights(weights: np.ndarray, n_samples: int) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != n_samples:
        raise ValueError(f"weights must have shape (n_resamples, {n_samples}); got {weights.shape}")
    return weights
