"""Weakly supervised localization: IoU hit rate, pointing game, and heatmap-to-box extraction.

Both hit measures return one row per evaluated image, so their means can be bootstrapped over
patients with :func:`mammobench.metrics.bootstrap.bootstrap_mean`. Only images with ground truth
are evaluated: the measures ask where a finding is, given that there is one.

Heatmap pixel (row r, column c) covers ``[c, c + 1) x [r, r + 1)`` in heatmap coordinates, the
same continuous convention as box tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage

from mammobench.metrics.boxes import COORDINATES, box_table, pairwise_iou
from mammobench.metrics.value import MetricInputError, MetricValue

DEFAULT_HIT_IOUS = (0.25, 0.5)
DEFAULT_PERCENTILE = 95.0

BoxScore = Literal["max", "mass", "mean"]


def iou_hits(
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    thresholds: Sequence[float] = DEFAULT_HIT_IOUS,
) -> pd.DataFrame:
    """Score, per image and category with ground truth, whether any predicted box hits.

    An image is a hit at threshold t when some predicted box of the category has IoU at least
    t with some ground-truth box of that category in the image. Predicted boxes need no score.

    Args:
        ground_truth: Box table of the ground truth; defines the evaluated (image, category)
            pairs.
        predictions: Box table of the predicted boxes (e.g. from :func:`heatmap_to_boxes`).
        thresholds: IoU thresholds.

    Returns:
        One row per (image_id, category) in the ground truth, sorted, with ``best_iou`` and a
        boolean column ``hit@<t>`` per threshold (e.g. ``hit@0.25``).

    Raises:
        MetricInputError: A box table is invalid or a threshold is outside (0, 1].
    """
    for threshold in thresholds:
        if not 0.0 < threshold <= 1.0:
            raise MetricInputError(f"IoU threshold {threshold} must be in (0, 1]")
    truth = box_table(ground_truth, "ground truth")
    predicted = box_table(predictions, "predictions")
    predicted_groups = {key: group for key, group in predicted.groupby(["image_id", "category"])}

    rows = []
    for (image_id, category), lesions in truth.groupby(["image_id", "category"], sort=True):
        candidates = predicted_groups.get((image_id, category))
        best_iou = 0.0
        if candidates is not None:
            overlaps = pairwise_iou(
                candidates[list(COORDINATES)].to_numpy(), lesions[list(COORDINATES)].to_numpy()
            )
            best_iou = float(overlaps.max())
        row = {"image_id": image_id, "category": category, "best_iou": best_iou}
        for threshold in thresholds:
            row[f"hit@{threshold:g}"] = best_iou >= threshold
        rows.append(row)

    columns = ["image_id", "category", "best_iou", *(f"hit@{t:g}" for t in thresholds)]
    return pd.DataFrame(rows, columns=columns)


def pointing_game(
    heatmaps: Mapping[str, np.ndarray],
    ground_truth: pd.DataFrame,
    *,
    tolerance: float = 0.0,
) -> pd.DataFrame:
    """Score, per image, whether the heatmap's maximum falls inside a ground-truth box.

    The point is the centre of the first maximal pixel in row-major order (``np.argmax``), so a
    constant heatmap points at its top-left pixel rather than hitting everywhere.

    Args:
        heatmaps: Heatmap per image id, 2-D arrays, for one category.
        ground_truth: Box table of that category's ground truth in heatmap pixel coordinates
            (scale image boxes to the heatmap grid first). Defines the evaluated images.
        tolerance: Distance in heatmap pixels by which the point may miss a box and still hit.

    Returns:
        One row per image with ground truth, sorted by image id, with ``hit`` (boolean) and the
        point ``x``, ``y``.

    Raises:
        MetricInputError: An image with ground truth has no heatmap, or a heatmap is not 2-D or
            contains a non-finite value.
    """
    truth = box_table(ground_truth, "ground truth")
    rows = []
    for image_id, lesions in truth.groupby("image_id", sort=True):
        if image_id not in heatmaps:
            raise MetricInputError(f"image '{image_id}' has ground truth but no heatmap")
        heatmap = _checked_heatmap(heatmaps[image_id], f"image '{image_id}'")
        row_index, column_index = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
        x, y = column_index + 0.5, row_index + 0.5

        boxes = lesions[list(COORDINATES)].to_numpy()
        # Distance from the point to each box: zero inside, else to the nearest edge.
        dx = np.maximum.reduce([boxes[:, 0] - x, np.zeros(len(boxes)), x - boxes[:, 2]])
        dy = np.maximum.reduce([boxes[:, 1] - y, np.zeros(len(boxes)), y - boxes[:, 3]])
        hit = bool((np.hypot(dx, dy) <= tolerance).any())
        rows.append({"image_id": image_id, "hit": hit, "x": float(x), "y": float(y)})
    return pd.DataFrame(rows, columns=["image_id", "hit", "x", "y"])


def hit_rate(outcomes: pd.DataFrame, column: str) -> MetricValue:
    """Return the mean of a boolean outcome column, or NaN with a reason when it is empty."""
    if column not in outcomes.columns:
        raise MetricInputError(
            f"outcome column '{column}' not found; have {list(outcomes.columns)}"
        )
    if outcomes.empty:
        return MetricValue.undefined("no images with ground truth in the evaluated set")
    return MetricValue(float(outcomes[column].astype(float).mean()))


def heatmap_to_boxes(
    heatmap: np.ndarray,
    percentile: float = DEFAULT_PERCENTILE,
    *,
    score: BoxScore = "max",
    min_pixels: int = 1,
    image_size: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Turn the high region of a heatmap into boxes, one per connected component.

    Pixels strictly above the heatmap's ``percentile``-th value are kept, so a map whose
    background fills more than the lower percentiles keeps only the peaks. When the top values
    tie at the threshold and nothing lies strictly above it, the pixels equal to the maximum are
    kept. A constant heatmap carries no location and gives no boxes. Components are 8-connected.

    Args:
        heatmap: 2-D array of finite values.
        percentile: Percentile of the heatmap values used as the threshold, in [0, 100).
        score: Box score: the component's ``max`` value, ``mass`` (sum) or ``mean``.
        min_pixels: Components with fewer pixels are dropped.
        image_size: ``(height, width)`` of the image the heatmap covers; boxes are scaled from
            heatmap pixels to image pixels. ``None`` keeps heatmap coordinates.

    Returns:
        Columns ``xmin, ymin, xmax, ymax, score, n_pixels``, one row per component, sorted by
        descending score. Add ``image_id`` and ``category`` columns to use it as a box table.

    Raises:
        MetricInputError: The heatmap is not 2-D or contains a non-finite value, or an argument
            is out of range.
    """
    values = _checked_heatmap(heatmap, "heatmap")
    if not 0.0 <= percentile < 100.0:
        raise MetricInputError(f"percentile must be in [0, 100); got {percentile}")
    if score not in ("max", "mass", "mean"):
        raise MetricInputError(f"score '{score}' is invalid; expected 'max', 'mass' or 'mean'")
    columns = ["xmin", "ymin", "xmax", "ymax", "score", "n_pixels"]
    if values.max() == values.min():
        return pd.DataFrame(columns=columns)

    threshold = np.percentile(values, percentile)
    mask = values > threshold
    if not mask.any():
        mask = values >= values.max()
    labels, n_components = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    indices = np.arange(1, n_components + 1)
    sizes = ndimage.sum_labels(np.ones_like(values), labels, indices)
    if score == "max":
        scores = ndimage.maximum(values, labels, indices)
    elif score == "mass":
        scores = ndimage.sum_labels(values, labels, indices)
    else:
        scores = ndimage.mean(values, labels, indices)

    rows = []
    for component, region in enumerate(ndimage.find_objects(labels)):
        if region is None or sizes[component] < min_pixels:
            continue
        rows_slice, columns_slice = region
        rows.append(
            [
                float(columns_slice.start),
                float(rows_slice.start),
                float(columns_slice.stop),
                float(rows_slice.stop),
                float(scores[component]),
                int(sizes[component]),
            ]
        )
    boxes = pd.DataFrame(rows, columns=columns)
    if image_size is not None:
        height, width = image_size
        scale_x = width / values.shape[1]
        scale_y = height / values.shape[0]
        boxes[["xmin", "xmax"]] *= scale_x
        boxes[["ymin", "ymax"]] *= scale_y
    return boxes.sort_values("score", ascending=False, kind="mergesort").reset_index(drop=True)


def _checked_heatmap(heatmap: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(heatmap, dtype=float)
    if values.ndim != 2 or values.size == 0:
        raise MetricInputError(
            f"{name}: heatmap must be a non-empty 2-D array; got shape {values.shape}"
        )
    if not np.isfinite(values).all():
        raise MetricInputError(f"{name}: heatmap contains NaN or infinite values")
    return values
