"""Classification metrics: AUC, accuracy, macro-F1 and balanced accuracy, plus breast-level scores.

Each metric wraps scikit-learn and returns a :class:`MetricValue`. An undefined metric (an empty
set, one class only for AUC, non-finite AUC scores) is NaN with a reason, not an exception.
Input that no metric can score (mismatched lengths, unknown labels marked NaN, labels other than
0/1 for AUC) raises :class:`MetricInputError`, because it is a bug in the caller, not an outcome
of the model.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn import metrics as sk_metrics

from mammobench.metrics.value import MetricInputError, MetricValue

logger = logging.getLogger(__name__)

BREAST_KEYS = ("patient_id", "laterality")


def auc(y_true: ArrayLike, y_score: ArrayLike) -> MetricValue:
    """Compute the area under the ROC curve of a binary classifier.

    Args:
        y_true: Labels, 0 (negative) or 1 (positive); booleans are accepted.
        y_score: Scores, higher meaning more likely positive (probabilities or logits).

    Returns:
        The AUC, or NaN with a reason when the set is empty, has one class only or has a
        non-finite score.

    Raises:
        MetricInputError: The arrays differ in length, or a label is not 0, 1 or boolean.
    """
    labels = binary_labels(y_true)
    scores = _as_1d(y_score, "y_score").astype(float)
    _check_same_length(labels, scores, "y_true", "y_score")

    if labels.size == 0:
        return MetricValue.undefined("no samples in the evaluated set")
    if not np.isfinite(scores).all():
        return MetricValue.undefined("scores contain NaN or infinite values")
    positives = int(labels.sum())
    negatives = int(labels.size - positives)
    if positives == 0 or negatives == 0:
        return MetricValue.undefined(
            f"only one class in the evaluated set ({positives} positive, {negatives} negative)"
        )
    return MetricValue(float(sk_metrics.roc_auc_score(labels, scores)))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> MetricValue:
    """Compute the share of predicted labels equal to the true labels.

    Args:
        y_true: True class labels (integers or strings such as density ``A``-``D``).
        y_pred: Predicted class labels of the same kind.

    Returns:
        The accuracy, or NaN with a reason when the set is empty.

    Raises:
        MetricInputError: The arrays differ in length or a label is missing (NaN or None).
    """
    truth, predicted = _class_labels(y_true, y_pred)
    if truth.size == 0:
        return MetricValue.undefined("no samples in the evaluated set")
    return MetricValue(float(sk_metrics.accuracy_score(truth, predicted)))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike) -> MetricValue:
    """Compute the unweighted mean of per-class F1 scores.

    The classes are those present in ``y_true`` or ``y_pred`` (scikit-learn's default). A class
    that is predicted but never true has F1 0 (``zero_division=0``), so it lowers the mean.

    Args:
        y_true: True class labels.
        y_pred: Predicted class labels.

    Returns:
        Macro-F1, or NaN with a reason when the set is empty.

    Raises:
        MetricInputError: The arrays differ in length or a label is missing.
    """
    truth, predicted = _class_labels(y_true, y_pred)
    if truth.size == 0:
        return MetricValue.undefined("no samples in the evaluated set")
    value = sk_metrics.f1_score(truth, predicted, average="macro", zero_division=0)
    return MetricValue(float(value))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> MetricValue:
    """Compute the mean recall over the classes present in ``y_true``.

    Rare classes (density A) weigh as much as common ones. Predicted classes that never occur in
    ``y_true`` lower the recall of the true classes but add no term of their own.

    Args:
        y_true: True class labels.
        y_pred: Predicted class labels.

    Returns:
        Balanced accuracy, or NaN with a reason when the set is empty.

    Raises:
        MetricInputError: The arrays differ in length or a label is missing.
    """
    truth, predicted = _class_labels(y_true, y_pred)
    if truth.size == 0:
        return MetricValue.undefined("no samples in the evaluated set")
    with warnings.catch_warnings():
        # scikit-learn warns when y_pred has classes that y_true lacks; that case is documented.
        warnings.simplefilter("ignore", UserWarning)
        value = sk_metrics.balanced_accuracy_score(truth, predicted)
    return MetricValue(float(value))


def breast_level(
    predictions: pd.DataFrame,
    score_columns: Sequence[str] = ("score",),
    label_column: str | None = "label",
    keys: Sequence[str] = BREAST_KEYS,
) -> pd.DataFrame:
    """Average image-level scores over the images of each breast.

    A breast is one (patient, laterality), and its score is the mean over its images (CC, MLO
    and any extra views). A NaN image score makes the breast's score NaN, so an invalid model
    output is never averaged away.

    Args:
        predictions: One row per image with the ``keys`` columns, the score columns and
            optionally the label column.
        score_columns: Columns to average.
        label_column: Image label column; the breast label is its maximum (a breast is positive
            when any of its images is). ``None`` when there are no labels.
        keys: Columns that identify a breast.

    Returns:
        One row per breast, sorted by ``keys``, with the ``keys`` columns, ``breast_id``
        (the keys joined by "/", e.g. "P001/L"), the averaged scores, the label and ``n_images``.

    Raises:
        MetricInputError: A required column is missing.
    """
    needed = [*keys, *score_columns] + ([label_column] if label_column else [])
    missing = [column for column in needed if column not in predictions.columns]
    if missing:
        raise MetricInputError(
            f"breast-level aggregation needs columns {missing}, which the prediction table "
            f"lacks; it has {list(predictions.columns)}"
        )

    grouped = predictions.groupby(list(keys), sort=True, dropna=False)
    breasts = grouped[list(score_columns)].mean()
    # GroupBy.mean skips NaN; put it back so a breast with a NaN image score stays NaN.
    has_nan = (
        predictions[list(score_columns)]
        .isna()
        .groupby([predictions[key] for key in keys], sort=True, dropna=False)
        .any()
    )
    breasts = breasts.mask(has_nan)
    if label_column:
        breasts[label_column] = grouped[label_column].max()
        mixed = int((grouped[label_column].nunique() > 1).sum())
        if mixed:
            logger.debug("%d breasts have images with different labels; using the maximum", mixed)
    breasts["n_images"] = grouped.size()
    breasts = breasts.reset_index()

    breast_ids = breasts[keys[0]].astype(str)
    for key in keys[1:]:
        breast_ids = breast_ids + "/" + breasts[key].astype(str)
    breasts.insert(len(keys), "breast_id", breast_ids)
    return breasts


def binary_labels(y_true: ArrayLike) -> np.ndarray:
    """Return binary labels as a float array of 0.0 and 1.0.

    Raises:
        MetricInputError: A label is NaN (unknown) or not 0/1.
    """
    labels = _as_1d(y_true, "y_true")
    if labels.dtype == bool:
        return labels.astype(float)
    try:
        values = labels.astype(float)
    except (TypeError, ValueError) as error:
        raise MetricInputError(
            f"binary labels must be 0 or 1; got {labels[:5].tolist()}"
        ) from error
    if np.isnan(values).any():
        position = int(np.flatnonzero(np.isnan(values))[0])
        raise MetricInputError(
            f"label at position {position} is NaN (unknown); drop images with unknown labels "
            "before scoring"
        )
    invalid = values[(values != 0.0) & (values != 1.0)]
    if invalid.size:
        raise MetricInputError(f"binary labels must be 0 or 1; got {invalid[0]!r}")
    return values


def _class_labels(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth = _as_1d(y_true, "y_true")
    predicted = _as_1d(y_pred, "y_pred")
    _check_same_length(truth, predicted, "y_true", "y_pred")
    for name, values in (("y_true", truth), ("y_pred", predicted)):
        missing = pd.isna(values)
        if missing.any():
            position = int(np.flatnonzero(missing)[0])
            raise MetricInputError(
                f"{name} at position {position} is missing (NaN or None); drop images with "
                "unknown labels before scoring"
            )
    true_kind = "text" if truth.dtype.kind in "OUS" else "number"
    predicted_kind = "text" if predicted.dtype.kind in "OUS" else "number"
    if truth.size and true_kind != predicted_kind:
        raise MetricInputError(
            f"y_true contains {true_kind} labels but y_pred contains {predicted_kind} labels; "
            "use the same label type for both"
        )
    return truth, predicted


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise MetricInputError(f"{name} must be one-dimensional; got shape {array.shape}")
    return array


def _check_same_length(
    first: np.ndarray, second: np.ndarray, first_name: str, second_name: str
) -> None:
    if len(first) != len(second):
        raise MetricInputError(
            f"{first_name} has {len(first)} values but {second_name} has {len(second)}; "
            "pass one value per sample in both"
        )
