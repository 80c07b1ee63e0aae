"""COCO-style average precision through pycocotools, with a weighted form for the bootstrap.

:func:`evaluate_detection` runs pycocotools' ``COCOeval`` once for all IoU thresholds (0.25,
0.5 and the COCO range 0.5:0.95 by default) and reads AP from its ``precision`` array, not from
``stats``, because ``summarize`` assumes the default thresholds. Settings that differ from
``COCOeval`` defaults:

- ``maxDets`` is one explicit value (default 100). pycocotools applies it per image and
  category: only the highest-scoring ``max_detections`` predictions of a category in an image
  count. Raise it when an image can hold more boxes than that.
- One area range that admits every box, because mammograms are larger than COCO images and
  lesion sizes are not split into COCO's small/medium/large.
- Ground truth has ``iscrowd=0`` and ``area`` = width x height.

AP per category is the mean of the 101-point interpolated precision. The mean AP is the mean over
categories that have ground truth in the evaluated images. A category without ground truth is NaN
with a reason. Predictions are allowed to be empty (AP 0 for every category with ground truth).

FROC lives in :mod:`mammobench.metrics.froc`; it is re-exported here.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mammobench.metrics.boxes import box_table, to_xywh
from mammobench.metrics.froc import FROCEvaluation, evaluate_froc  # noqa: F401 (re-export)
from mammobench.metrics.value import MetricInputError, MetricValue

DEFAULT_MAX_DETECTIONS = 100
DEFAULT_IOU_THRESHOLDS = (0.25, 0.5)
COCO_RANGE_KEY = "0.5:0.95"

# COCO's AP@[.5:.95] thresholds and its 101 recall points, as pycocotools defines them.
_COCO_RANGE = np.linspace(0.5, 0.95, 10)
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)

# Detections per weighted-AP array pass, bounding memory (4M float64 entries are 32 MiB).
_MAX_CHUNK_ELEMENTS = 1 << 22


@dataclass
class _CategoryDetections:
    """A category's detections in pycocotools' accumulate order (score descending)."""

    image_index: np.ndarray  # (D,) position of each detection's image in image_ids
    true_positive: np.ndarray  # (T, D) matched and not ignored, per IoU threshold
    false_positive: np.ndarray  # (T, D) unmatched and not ignored, per IoU threshold


@dataclass
class DetectionEvaluation:
    """AP of one set of predictions, with per-detection matches for bootstrap resampling.

    Attributes:
        image_ids: Evaluated images, in the order that weight vectors follow.
        categories: Evaluated categories.
        iou_thresholds: Every IoU threshold evaluated, ascending.
        max_detections: pycocotools ``maxDets``, per image and category.
        precision: pycocotools' interpolated precision for the single area range and
            ``max_detections``, shape (thresholds, 101 recall points, categories); -1 where a
            category has no ground truth.
        ground_truth_counts: Ground-truth boxes per image and category, shape (images, categories).
    """

    image_ids: tuple[str, ...]
    categories: tuple[str, ...]
    iou_thresholds: np.ndarray
    max_detections: int
    precision: np.ndarray
    ground_truth_counts: np.ndarray
    _detections: list[_CategoryDetections] = field(repr=False)
    _extra_keys: tuple[str, ...] = ()

    def iou_keys(self) -> tuple[str, ...]:
        """Return the IoU keys that metric names use, e.g. ("0.25", "0.5", "0.5:0.95")."""
        return (*self._extra_keys, COCO_RANGE_KEY)

    def ap(self, iou: str | float = "0.5", category: str | None = None) -> MetricValue:
        """Return AP at one IoU key for one category, or the mean over categories when None."""
        thresholds = self._threshold_indices(iou)
        if category is not None:
            k = self._category_index(category)
            return self._category_ap(thresholds, k)

        values = [self._category_ap(thresholds, k) for k in range(len(self.categories))]
        defined = [value.value for value in values if value.defined]
        if not defined:
            return MetricValue.undefined(
                "no category has ground-truth boxes in the evaluated images"
            )
        return MetricValue(float(np.mean(defined)))

    def metrics(self) -> dict[str, MetricValue]:
        """Return every AP as ``{name: value}``.

        Names are ``ap@<iou>`` for the mean over categories and ``ap@<iou>/<category>`` per
        category, with ``<iou>`` one of :meth:`iou_keys`, e.g. ``ap@0.25`` or
        ``ap@0.5:0.95/mass``.
        """
        results: dict[str, MetricValue] = {}
        for key in self.iou_keys():
            results[f"ap@{key}"] = self.ap(key)
            for category in self.categories:
                results[f"ap@{key}/{category}"] = self.ap(key, category)
        return results

    def weighted(self, name: str, weights: np.ndarray) -> np.ndarray:
        """Compute a metric of :meth:`metrics` for each row of image weights.

        Row b is the evaluated set with image i taken ``weights[b, i]`` times, which is what a
        bootstrap resample over patients is. With all weights 1 the value equals :meth:`ap`.
        Pass this to :func:`mammobench.metrics.bootstrap.cluster_bootstrap` with
        ``functools.partial(evaluation.weighted, name)``.

        Args:
            name: A metric name, e.g. "ap@0.25" or "ap@0.5/mass".
            weights: Array of shape ``(n_resamples, len(image_ids))``.

        Returns:
            One value per row, NaN where no category has ground truth in that row.
        """
        key, category = _parse_name(name)
        thresholds = self._threshold_indices(key)
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != len(self.image_ids):
            raise ValueError(
                f"weights must have shape (n_resamples, {len(self.image_ids)}); got {weights.shape}"
            )
        if category is not None:
            return self._weighted_category_ap(thresholds, self._category_index(category), weights)

        per_category = np.stack(
            [
                self._weighted_category_ap(thresholds, k, weights)
                for k in range(len(self.categories))
            ]
        )
        defined = np.isfinite(per_category)
        counts = defined.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                counts > 0, np.where(defined, per_category, 0.0).sum(axis=0) / counts, np.nan
            )

    def _category_ap(self, thresholds: np.ndarray, k: int) -> MetricValue:
        curves = self.precision[thresholds, :, k]
        if (curves < 0).any():
            return MetricValue.undefined(
                f"no ground-truth boxes of category '{self.categories[k]}' in the evaluated images"
            )
        return MetricValue(float(curves.mean()))

    def _weighted_category_ap(
        self, thresholds: np.ndarray, k: int, weights: np.ndarray
    ) -> np.ndarray:
        detections = self._detections[k]
        n_detections = detections.image_index.size
        ground_truth = weights @ self.ground_truth_counts[:, k]
        rows_per_chunk = max(1, _MAX_CHUNK_ELEMENTS // max(n_detections, 1))

        ap = np.zeros((weights.shape[0], thresholds.size))
        for start in range(0, weights.shape[0], rows_per_chunk):
            chunk = slice(start, start + rows_per_chunk)
            detection_weights = weights[chunk][:, detections.image_index]
            for column, t in enumerate(thresholds):
                ap[chunk, column] = _interpolated_ap(
                    np.cumsum(detection_weights * detections.true_positive[t], axis=1),
                    np.cumsum(detection_weights * detections.false_positive[t], axis=1),
                    ground_truth[chunk],
                )
        return np.where(ground_truth > 0, ap.mean(axis=1), np.nan)

    def _threshold_indices(self, iou: str | float) -> np.ndarray:
        key = iou if isinstance(iou, str) else _iou_key(iou)
        if key == COCO_RANGE_KEY:
            targets = _COCO_RANGE
        elif key in self._extra_keys:
            targets = np.array([float(key)])
        else:
            raise MetricInputError(
                f"IoU '{iou}' was not evaluated; choose one of {list(self.iou_keys())}"
            )
        return np.array([int(np.argmin(np.abs(self.iou_thresholds - t))) for t in targets])

    def _category_index(self, category: str) -> int:
        try:
            return self.categories.index(category)
        except ValueError:
            raise MetricInputError(
                f"category '{category}' was not evaluated; choose one of {list(self.categories)}"
            ) from None


def evaluate_detection(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    image_ids: Sequence[str],
    categories: Sequence[str],
    iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    max_detections: int = DEFAULT_MAX_DETECTIONS,
) -> DetectionEvaluation:
    """Evaluate predicted boxes against ground truth with pycocotools.

    Args:
        ground_truth: Box table of the ground truth (see :mod:`mammobench.metrics.boxes`).
        predictions: Box table of the predictions, with a ``score`` column; may be empty.
        image_ids: Every evaluated image, including images without ground truth, whose
            predictions are false positives.
        categories: Every evaluated category.
        iou_thresholds: IoU thresholds reported besides the COCO range 0.5:0.95.
        max_detections: pycocotools ``maxDets``: predictions kept per image and category.

    Returns:
        The evaluation; call :meth:`DetectionEvaluation.metrics` for the values.

    Raises:
        MetricInputError: Ids are duplicated or unknown, a box is invalid, or a setting is out
            of range.
    """
    image_ids = tuple(str(image_id) for image_id in image_ids)
    categories = tuple(str(category) for category in categories)
    _check_unique(image_ids, "image_ids")
    _check_unique(categories, "categories")
    if not categories:
        raise MetricInputError("categories is empty; pass every evaluated category")
    if max_detections < 1:
        raise MetricInputError(f"max_detections must be at least 1; got {max_detections}")
    extra_keys = tuple(dict.fromkeys(_iou_key(t) for t in iou_thresholds))
    for key in extra_keys:
        if not 0.0 < float(key) < 1.0:
            raise MetricInputError(f"IoU threshold {key} must be between 0 and 1")

    truth = box_table(ground_truth, "ground truth", image_ids=image_ids, categories=categories)
    predicted = box_table(
        predictions, "predictions", require_score=True, image_ids=image_ids, categories=categories
    )
    thresholds = _merge_thresholds([float(key) for key in extra_keys])

    evaluator = _run_cocoeval(truth, predicted, image_ids, categories, thresholds, max_detections)
    precision = evaluator.eval["precision"][:, :, :, 0, 0]
    detections, ground_truth_counts = _collect_matches(evaluator, len(image_ids), len(categories))
    return DetectionEvaluation(
        image_ids=image_ids,
        categories=categories,
        iou_thresholds=thresholds,
        max_detections=max_detections,
        precision=precision,
        ground_truth_counts=ground_truth_counts,
        _detections=detections,
        _extra_keys=extra_keys,
    )


def _run_cocoeval(
    truth: pd.DataFrame,
    predicted: pd.DataFrame,
    image_ids: tuple[str, ...],
    categories: tuple[str, ...],
    thresholds: np.ndarray,
    max_detections: int,
) -> COCOeval:
    # pycocotools needs integer ids; image i is id i + 1 so its sorted order is image_ids' order.
    image_numbers = {image_id: i + 1 for i, image_id in enumerate(image_ids)}
    category_numbers = {category: k + 1 for k, category in enumerate(categories)}
    images = [{"id": number} for number in image_numbers.values()]
    category_entries = [{"id": number, "name": name} for name, number in category_numbers.items()]

    coco_truth = COCO()
    coco_truth.dataset = {
        "images": images,
        "categories": category_entries,
        "annotations": _annotations(truth, image_numbers, category_numbers, with_scores=False),
    }
    # The detections are built by hand, not with COCO.loadRes, which fails on an empty list.
    coco_predictions = COCO()
    coco_predictions.dataset = {
        "images": images,
        "categories": category_entries,
        "annotations": _annotations(predicted, image_numbers, category_numbers, with_scores=True),
    }

    with _quiet():
        coco_truth.createIndex()
        coco_predictions.createIndex()
        evaluator = COCOeval(coco_truth, coco_predictions, iouType="bbox")
        params = evaluator.params
        params.imgIds = list(image_numbers.values())
        params.catIds = list(category_numbers.values())
        params.iouThrs = thresholds
        params.maxDets = [max_detections]
        params.areaRng = [[0.0, float("inf")]]
        params.areaRngLbl = ["all"]
        params.useCats = 1
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator


def _annotations(
    boxes: pd.DataFrame,
    image_numbers: dict[str, int],
    category_numbers: dict[str, int],
    *,
    with_scores: bool,
) -> list[dict]:
    xywh = to_xywh(boxes[["xmin", "ymin", "xmax", "ymax"]].to_numpy())
    annotations = []
    for row, (image_id, category) in enumerate(zip(boxes["image_id"], boxes["category"])):
        x, y, width, height = (float(v) for v in xywh[row])
        annotation = {
            "id": row + 1,
            "image_id": image_numbers[image_id],
            "category_id": category_numbers[category],
            "bbox": [x, y, width, height],
            "area": width * height,
            "iscrowd": 0,
        }
        if with_scores:
            annotation["score"] = float(boxes["score"].iat[row])
        annotations.append(annotation)
    return annotations


def _collect_matches(
    evaluator: COCOeval, n_images: int, n_categories: int
) -> tuple[list[_CategoryDetections], np.ndarray]:
    """Gather pycocotools' per-image matches in the order its ``accumulate`` sorts them."""
    n_thresholds = len(evaluator.params.iouThrs)
    ground_truth_counts = np.zeros((n_images, n_categories))
    detections = []
    for k in range(n_categories):
        image_index, scores, matched, ignored = [], [], [], []
        for i in range(n_images):
            # evalImgs is ordered by category, then area range (one here), then image.
            result = evaluator.evalImgs[k * n_images + i]
            if result is None:
                continue
            ground_truth_counts[i, k] = np.count_nonzero(np.asarray(result["gtIgnore"]) == 0)
            count = len(result["dtScores"])
            image_index.append(np.full(count, i))
            scores.append(np.asarray(result["dtScores"], dtype=float))
            matched.append(np.asarray(result["dtMatches"]).reshape(n_thresholds, count) > 0)
            ignored.append(np.asarray(result["dtIgnore"]).reshape(n_thresholds, count).astype(bool))

        if scores:
            all_scores = np.concatenate(scores)
            order = np.argsort(-all_scores, kind="mergesort")  # as pycocotools' accumulate
            all_matched = np.concatenate(matched, axis=1)[:, order]
            all_ignored = np.concatenate(ignored, axis=1)[:, order]
            all_images = np.concatenate(image_index)[order]
        else:
            all_matched = all_ignored = np.zeros((n_thresholds, 0), dtype=bool)
            all_images = np.zeros(0, dtype=int)
        detections.append(
            _CategoryDetections(
                image_index=all_images,
                true_positive=all_matched & ~all_ignored,
                false_positive=~all_matched & ~all_ignored,
            )
        )
    return detections, ground_truth_counts


def _interpolated_ap(
    true_positives: np.ndarray, false_positives: np.ndarray, ground_truth: np.ndarray
) -> np.ndarray:
    """Compute COCO's 101-point interpolated AP per row of cumulative TP and FP weights.

    Follows pycocotools' ``accumulate``: precision is made monotone from the right, and each
    recall point takes the precision at the first detection whose recall reaches it (0 when
    recall never reaches it). Rows without ground truth return 0; the caller masks them.
    """
    n_rows, n_detections = true_positives.shape
    if n_detections == 0:
        return np.zeros(n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = true_positives / ground_truth[:, None]
    precision = true_positives / (true_positives + false_positives + np.spacing(1))
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]

    ap = np.zeros(n_rows)
    for row in range(n_rows):
        if not ground_truth[row] > 0:
            continue
        positions = np.searchsorted(recall[row], _RECALL_POINTS, side="left")
        reached = positions < n_detections
        ap[row] = envelope[row, positions[reached]].sum() / _RECALL_POINTS.size
    return ap


def _merge_thresholds(extra: list[float]) -> np.ndarray:
    """Add thresholds to COCO's range, keeping pycocotools' exact range values."""
    thresholds = list(_COCO_RANGE)
    for threshold in extra:
        if not np.isclose(thresholds, threshold).any():
            thresholds.append(threshold)
    return np.array(sorted(thresholds))


def _parse_name(name: str) -> tuple[str, str | None]:
    if not name.startswith("ap@"):
        raise MetricInputError(
            f"metric '{name}' is not an AP name; expected e.g. 'ap@0.25' or 'ap@0.5/mass'"
        )
    key, _, category = name[3:].partition("/")
    return key, category or None


def _iou_key(threshold: float) -> str:
    return f"{float(threshold):g}"


def _check_unique(values: tuple[str, ...], name: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise MetricInputError(f"{name} lists '{value}' more than once")
        seen.add(value)


@contextlib.contextmanager
def _quiet():
    """Silence pycocotools, which prints progress to stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
