"""FROC: lesion sensitivity at fixed numbers of false positives per image.

FROC is a standard measure of mammography CAD systems. The definitions used here:

- A prediction hits a ground-truth box of its own category when their IoU is at least
  ``iou_threshold`` (default 0.25), or, with ``criterion="center"``, when the prediction's centre
  lies inside the box.
- Within each image, predictions are taken in descending score order. Each prediction detects at
  most one lesion: the not-yet-detected lesion it hits with the highest IoU. A prediction that
  hits no lesion is a false positive. A prediction that hits only lesions that are already
  detected is neither, so duplicate detections of one lesion cost nothing.
- Sensitivity is detected lesions / all lesions. False positives per image divide by every
  evaluated image, so images without lesions contribute false positives.
- The sensitivity at f false positives per image is the sensitivity at the lowest score cut-off
  whose false positives per image do not exceed f. There is no interpolation; cut-offs lie
  between distinct scores, and when f exceeds the rate of all predictions the sensitivity is that
  of all predictions.
- ``froc_mean`` is the mean sensitivity over the FP rates (default 0.25, 0.5, 1, 2 and 4).

Values are computed per category; names without a category are the mean over categories that
have ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from mammobench.metrics.boxes import COORDINATES, box_table, pairwise_iou
from mammobench.metrics.value import MetricInputError, MetricValue

DEFAULT_FP_RATES = (0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_HIT_IOU = 0.25

HitCriterion = Literal["iou", "center"]

_TRUE_POSITIVE = 1
_FALSE_POSITIVE = 0
_IGNORED = -1


@dataclass
class _CategoryPredictions:
    """A category's predictions sorted by descending score, with their outcome."""

    image_index: np.ndarray  # (D,) position of each prediction's image in image_ids
    scores: np.ndarray  # (D,) descending
    outcome: np.ndarray  # (D,) _TRUE_POSITIVE, _FALSE_POSITIVE or _IGNORED


@dataclass
class FROCEvaluation:
    """FROC points of one set of predictions, resamplable by image weights.

    Attributes:
        image_ids: Evaluated images, in the order that weight vectors follow.
        categories: Evaluated categories.
        fp_rates: False positives per image at which sensitivity is reported.
        criterion: "iou" or "center".
        iou_threshold: IoU that counts as a hit when ``criterion`` is "iou".
        lesion_counts: Ground-truth boxes per image and category, shape (images, categories).
    """

    image_ids: tuple[str, ...]
    categories: tuple[str, ...]
    fp_rates: tuple[float, ...]
    criterion: HitCriterion
    iou_threshold: float
    lesion_counts: np.ndarray
    _predictions: list[_CategoryPredictions] = field(repr=False)

    def sensitivity(self, fp_rate: float, category: str | None = None) -> MetricValue:
        """Return the sensitivity at ``fp_rate`` false positives per image."""
        if fp_rate not in self.fp_rates:
            raise MetricInputError(
                f"FP rate {fp_rate} was not evaluated; choose one of {list(self.fp_rates)}"
            )
        column = self.fp_rates.index(fp_rate)
        return self._value(lambda points: points[:, column], category)

    def mean_sensitivity(self, category: str | None = None) -> MetricValue:
        """Return the mean sensitivity over :attr:`fp_rates` (the FROC score)."""
        return self._value(lambda points: points.mean(axis=1), category)

    def metrics(self) -> dict[str, MetricValue]:
        """Return every value as ``{name: value}``.

        Names are ``sensitivity@<f>fpi`` (e.g. ``sensitivity@0.25fpi``) and ``froc_mean``, with
        ``/<category>`` appended for a single category.
        """
        results: dict[str, MetricValue] = {}
        for category in (None, *self.categories):
            suffix = "" if category is None else f"/{category}"
            for fp_rate in self.fp_rates:
                results[f"sensitivity@{fp_rate:g}fpi{suffix}"] = self.sensitivity(fp_rate, category)
            results[f"froc_mean{suffix}"] = self.mean_sensitivity(category)
        return results

    def weighted(self, name: str, weights: np.ndarray) -> np.ndarray:
        """Compute a metric of :meth:`metrics` for each row of image weights.

        Row b is the evaluated set with image i taken ``weights[b, i]`` times (a bootstrap
        resample over patients). With all weights 1 the value equals :meth:`metrics`.

        Args:
            name: A metric name, e.g. "froc_mean" or "sensitivity@1fpi/mass".
            weights: Array of shape ``(n_resamples, len(image_ids))``.

        Returns:
            One value per row, NaN where no lesion was drawn.
        """
        base, _, category = name.partition("/")
        reduce = self._reducer(base, name)
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != len(self.image_ids):
            raise ValueError(
                f"weights must have shape (n_resamples, {len(self.image_ids)}); got {weights.shape}"
            )
        return self._weighted(reduce, category or None, weights)

    def curve(self, category: str) -> pd.DataFrame:
        """Return the FROC curve of one category: one row per score cut-off.

        Columns: ``threshold`` (predictions with at least this score are kept),
        ``fps_per_image`` and ``sensitivity``.
        """
        k = self._category_index(category)
        predictions = self._predictions[k]
        n_lesions = self.lesion_counts[:, k].sum()
        n_images = len(self.image_ids)
        true_positives = np.cumsum(predictions.outcome == _TRUE_POSITIVE)
        false_positives = np.cumsum(predictions.outcome == _FALSE_POSITIVE)
        ends = _tie_group_ends(predictions.scores)
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.DataFrame(
                {
                    "threshold": predictions.scores[ends],
                    "fps_per_image": false_positives[ends] / n_images,
                    "sensitivity": true_positives[ends] / n_lesions,
                }
            )

    def _value(self, reduce, category: str | None) -> MetricValue:
        if not self.image_ids:
            return MetricValue.undefined("no images in the evaluated set")
        value = float(self._weighted(reduce, category, np.ones((1, len(self.image_ids))))[0])
        if np.isnan(value):
            scope = "any category" if category is None else f"category '{category}'"
            return MetricValue.undefined(
                f"no ground-truth boxes of {scope} in the evaluated images"
            )
        return MetricValue(value)

    def _reducer(self, base: str, name: str):
        if base == "froc_mean":
            return lambda points: points.mean(axis=1)
        for column, fp_rate in enumerate(self.fp_rates):
            if base == f"sensitivity@{fp_rate:g}fpi":
                return lambda points, column=column: points[:, column]
        raise MetricInputError(
            f"metric '{name}' is not a FROC name; expected 'froc_mean' or "
            f"'sensitivity@<rate>fpi' with a rate in {list(self.fp_rates)}, optionally followed "
            "by '/<category>'"
        )

    def _weighted(self, reduce, category: str | None, weights: np.ndarray) -> np.ndarray:
        if category is not None:
            return reduce(self._sensitivity_points(self._category_index(category), weights))
        per_category = np.stack(
            [reduce(self._sensitivity_points(k, weights)) for k in range(len(self.categories))]
        )
        defined = np.isfinite(per_category)
        counts = defined.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                counts > 0, np.where(defined, per_category, 0.0).sum(axis=0) / counts, np.nan
            )

    def _sensitivity_points(self, k: int, weights: np.ndarray) -> np.ndarray:
        """Return sensitivity at each FP rate, shape (rows, FP rates); NaN rows have no lesion."""
        predictions = self._predictions[k]
        n_lesions = weights @ self.lesion_counts[:, k]
        n_images = weights.sum(axis=1)

        points = np.zeros((weights.shape[0], len(self.fp_rates)))
        ends = _tie_group_ends(predictions.scores)
        if ends.size:
            prediction_weights = weights[:, predictions.image_index]
            is_true = predictions.outcome == _TRUE_POSITIVE
            is_false = predictions.outcome == _FALSE_POSITIVE
            true_positives = np.cumsum(prediction_weights * is_true, axis=1)[:, ends]
            false_positives = np.cumsum(prediction_weights * is_false, axis=1)[:, ends]
            for column, fp_rate in enumerate(self.fp_rates):
                # Cumulative false positives never decrease, so the cut-offs within the budget
                # are a prefix. Comparing counts with rate x images avoids rounding in a division.
                within = (false_positives <= fp_rate * n_images[:, None]).sum(axis=1)
                last = np.maximum(within - 1, 0)[:, None]
                reached = np.take_along_axis(true_positives, last, axis=1)[:, 0]
                points[:, column] = np.where(within > 0, reached, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_lesions[:, None] > 0, points / n_lesions[:, None], np.nan)

    def _category_index(self, category: str) -> int:
        try:
            return self.categories.index(category)
        except ValueError:
            raise MetricInputError(
                f"category '{category}' was not evaluated; choose one of {list(self.categories)}"
            ) from None


def evaluate_froc(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    image_ids: Sequence[str],
    categories: Sequence[str],
    fp_rates: Sequence[float] = DEFAULT_FP_RATES,
    criterion: HitCriterion = "iou",
    iou_threshold: float = DEFAULT_HIT_IOU,
) -> FROCEvaluation:
    """Match predictions to lesions and prepare the FROC points.

    Args:
        ground_truth: Box table of the lesions (see :mod:`mammobench.metrics.boxes`).
        predictions: Box table of the predictions, with a ``score`` column; may be empty.
        image_ids: Every evaluated image, including images without lesions.
        categories: Every evaluated category.
        fp_rates: False positives per image at which sensitivity is reported.
        criterion: "iou" (IoU at least ``iou_threshold``) or "center" (prediction centre inside
            the lesion box).
        iou_threshold: IoU that counts as a hit with the "iou" criterion.

    Returns:
        The evaluation; call :meth:`FROCEvaluation.metrics` for the values.

    Raises:
        MetricInputError: Ids are unknown or a box or setting is invalid.
    """
    image_ids = tuple(str(image_id) for image_id in image_ids)
    categories = tuple(str(category) for category in categories)
    if len(set(image_ids)) != len(image_ids):
        raise MetricInputError("image_ids lists an image more than once")
    if not categories or len(set(categories)) != len(categories):
        raise MetricInputError(f"categories must be non-empty and unique; got {list(categories)}")
    if criterion not in ("iou", "center"):
        raise MetricInputError(f"criterion '{criterion}' is invalid; expected 'iou' or 'center'")
    if not 0.0 < iou_threshold <= 1.0:
        raise MetricInputError(f"iou_threshold must be in (0, 1]; got {iou_threshold}")
    rates = tuple(float(rate) for rate in fp_rates)
    if not rates or any(rate <= 0 for rate in rates):
        raise MetricInputError(f"fp_rates must be positive numbers; got {list(fp_rates)}")

    truth = box_table(ground_truth, "ground truth", image_ids=image_ids, categories=categories)
    predicted = box_table(
        predictions, "predictions", require_score=True, image_ids=image_ids, categories=categories
    )
    image_position = {image_id: i for i, image_id in enumerate(image_ids)}

    lesion_counts = np.zeros((len(image_ids), len(categories)))
    category_predictions = []
    for k, category in enumerate(categories):
        lesions = truth[truth["category"] == category]
        for image_id, count in lesions["image_id"].value_counts().items():
            lesion_counts[image_position[image_id], k] = count
        category_predictions.append(
            _match_category(
                lesions,
                predicted[predicted["category"] == category],
                image_position,
                criterion,
                iou_threshold,
            )
        )

    return FROCEvaluation(
        image_ids=image_ids,
        categories=categories,
        fp_rates=rates,
        criterion=criterion,
        iou_threshold=float(iou_threshold),
        lesion_counts=lesion_counts,
        _predictions=category_predictions,
    )


def _match_category(
    lesions: pd.DataFrame,
    predictions: pd.DataFrame,
    image_position: dict[str, int],
    criterion: HitCriterion,
    iou_threshold: float,
) -> _CategoryPredictions:
    order = np.argsort(-predictions["score"].to_numpy(), kind="mergesort")
    predictions = predictions.iloc[order].reset_index(drop=True)
    outcome = np.full(len(predictions), _FALSE_POSITIVE)
    lesions_by_image = {
        image_id: group for image_id, group in lesions.groupby("image_id", sort=False)
    }

    for image_id, rows in predictions.groupby("image_id", sort=False).indices.items():
        image_lesions = lesions_by_image.get(image_id)
        if image_lesions is None:
            continue
        lesion_boxes = image_lesions[list(COORDINATES)].to_numpy()
        predicted_boxes = predictions.loc[rows, list(COORDINATES)].to_numpy()
        overlaps = pairwise_iou(predicted_boxes, lesion_boxes)
        if criterion == "iou":
            hits = overlaps >= iou_threshold
        else:
            hits = _centers_inside(predicted_boxes, lesion_boxes)

        detected = np.zeros(len(lesion_boxes), dtype=bool)
        # rows are in descending score order because predictions were sorted first.
        for position, row in enumerate(rows):
            candidates = hits[position] & ~detected
            if candidates.any():
                best = int(np.argmax(np.where(candidates, overlaps[position], -1.0)))
                detected[best] = True
                outcome[row] = _TRUE_POSITIVE
            elif hits[position].any():
                outcome[row] = _IGNORED

    return _CategoryPredictions(
        image_index=np.array([image_position[i] for i in predictions["image_id"]], dtype=int),
        scores=predictions["score"].to_numpy(dtype=float),
        outcome=outcome,
    )


def _centers_inside(predicted: np.ndarray, lesions: np.ndarray) -> np.ndarray:
    centers_x = (predicted[:, 0] + predicted[:, 2]) / 2.0
    centers_y = (predicted[:, 1] + predicted[:, 3]) / 2.0
    inside_x = (centers_x[:, None] >= lesions[None, :, 0]) & (
        centers_x[:, None] <= lesions[None, :, 2]
    )
    inside_y = (centers_y[:, None] >= lesions[None, :, 1]) & (
        centers_y[:, None] <= lesions[None, :, 3]
    )
    return inside_x & inside_y


def _tie_group_ends(descending_scores: np.ndarray) -> np.ndarray:
    """Return the index of the last prediction of each run of equal scores."""
    if descending_scores.size == 0:
        return np.zeros(0, dtype=int)
    changes = np.flatnonzero(descending_scores[1:] != descending_scores[:-1])
    return np.r_[changes, descending_scores.size - 1]
