"""Box tables and IoU, shared by the AP, FROC and localization metrics.

A box table is a DataFrame with one row per box and the columns ``image_id``, ``category``,
``xmin``, ``ymin``, ``xmax``, ``ymax`` and, for predictions, ``score``. Coordinates are
continuous pixel coordinates (pixel i covers [i, i + 1)), so a box's width is ``xmax - xmin``.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from pycocotools import mask as coco_mask

from mammobench.metrics.value import MetricInputError

COORDINATES = ("xmin", "ymin", "xmax", "ymax")
BOX_COLUMNS = ("image_id", "category", *COORDINATES)


def box_table(
    frame: pd.DataFrame,
    name: str,
    *,
    require_score: bool = False,
    image_ids: Collection[str] | None = None,
    categories: Collection[str] | None = None,
) -> pd.DataFrame:
    """Validate a box table and return a normalised copy.

    Args:
        frame: The boxes.
        name: What the table is, for error messages (e.g. "predictions").
        require_score: Require a finite ``score`` column.
        image_ids: Known image ids; a box on any other image is an error.
        categories: Known categories; a box of any other category is an error.

    Returns:
        A copy with string ids, float coordinates (and scores) and a fresh index.

    Raises:
        MetricInputError: A column is missing, a coordinate or score is not finite, a box has
            zero or negative width or height, or an id is unknown.
    """
    required = [*BOX_COLUMNS, "score"] if require_score else list(BOX_COLUMNS)
    if frame.columns.empty:
        frame = pd.DataFrame(columns=required)  # an empty pd.DataFrame() means "no boxes"
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise MetricInputError(
            f"{name}: box table is missing columns {missing}; expected {required}"
        )

    boxes = frame.reset_index(drop=True).copy()
    boxes["image_id"] = boxes["image_id"].astype(str)
    boxes["category"] = boxes["category"].astype(str)
    numeric = [*COORDINATES, "score"] if require_score else list(COORDINATES)
    for column in numeric:
        boxes[column] = boxes[column].astype(float)
        bad = ~np.isfinite(boxes[column].to_numpy())
        if bad.any():
            row = boxes.loc[bad].iloc[0]
            raise MetricInputError(
                f"{name}: box on image '{row['image_id']}' has {column}={row[column]!r}; "
                "coordinates and scores must be finite numbers"
            )

    widths = boxes["xmax"] - boxes["xmin"]
    heights = boxes["ymax"] - boxes["ymin"]
    degenerate = (widths <= 0) | (heights <= 0)
    if degenerate.any():
        row = boxes.loc[degenerate].iloc[0]
        raise MetricInputError(
            f"{name}: box on image '{row['image_id']}' ({row['xmin']}, {row['ymin']}, "
            f"{row['xmax']}, {row['ymax']}) has zero or negative width or height; clamp or "
            "drop degenerate boxes before evaluation"
        )

    if image_ids is not None:
        unknown = sorted(set(boxes["image_id"]) - set(image_ids))
        if unknown:
            raise MetricInputError(
                f"{name}: {len(unknown)} box image ids are not among the evaluated images, "
                f"e.g. '{unknown[0]}'; pass every evaluated image in image_ids"
            )
    if categories is not None:
        unknown = sorted(set(boxes["category"]) - set(categories))
        if unknown:
            raise MetricInputError(
                f"{name}: category '{unknown[0]}' is not among the evaluated categories "
                f"{sorted(categories)}"
            )
    return boxes


def pairwise_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Compute the IoU of every box in ``boxes_a`` with every box in ``boxes_b``.

    Args:
        boxes_a: Array of shape ``(n, 4)`` with ``xmin, ymin, xmax, ymax``.
        boxes_b: Array of shape ``(m, 4)`` in the same format.

    Returns:
        Array of shape ``(n, m)``, computed by pycocotools as in COCO AP.
    """
    boxes_a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    boxes_b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return np.zeros((len(boxes_a), len(boxes_b)))
    return np.asarray(
        coco_mask.iou(to_xywh(boxes_a), to_xywh(boxes_b), [0] * len(boxes_b)), dtype=float
    )


def to_xywh(boxes: np.ndarray) -> np.ndarray:
    """Convert ``xmin, ymin, xmax, ymax`` rows to COCO's ``x, y, width, height``."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    converted = boxes.copy()
    converted[:, 2] = boxes[:, 2] - boxes[:, 0]
    converted[:, 3] = boxes[:, 3] - boxes[:, 1]
    return converted
