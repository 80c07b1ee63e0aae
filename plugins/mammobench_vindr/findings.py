"""VinDr-Mammo finding categories: parsing the list strings and mapping them to shared names.

``finding_categories`` contains a Python-style list per row, e.g. ``"['Mass', 'Suspicious
Calcification']"`` in ``finding_annotations.csv`` or ``"[Mass]"`` in some derived CSV files.
Rows of normal images say ``['No Finding']`` and have empty box coordinates. One row can carry
several categories for one box.

Image-level label columns are the shared finding names of :mod:`mammobench.vocab`. The
``asymmetry`` label is positive for Asymmetry, Focal Asymmetry and Global Asymmetry, while boxes
keep the specific category (``asymmetry``, ``focal_asymmetry``, ``global_asymmetry``), so a
detection task for all asymmetries has to take the three box categories together.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mammobench.api import empty_boxes, image_level_labels, invalid_value, line_of, vocab

logger = logging.getLogger(__name__)

NO_FINDING = "No Finding"

# VinDr-Mammo category spelling -> shared finding name (box category and label column).
CATEGORY_TO_FINDING: dict[str, str] = {
    "Mass": vocab.MASS,
    "Suspicious Calcification": vocab.CALCIFICATION,
    "Architectural Distortion": vocab.ARCHITECTURAL_DISTORTION,
    "Asymmetry": vocab.ASYMMETRY,
    "Focal Asymmetry": vocab.FOCAL_ASYMMETRY,
    "Global Asymmetry": vocab.GLOBAL_ASYMMETRY,
    "Skin Thickening": vocab.SKIN_THICKENING,
    "Skin Retraction": vocab.SKIN_RETRACTION,
    "Nipple Retraction": vocab.NIPPLE_RETRACTION,
    "Suspicious Lymph Node": vocab.SUSPICIOUS_LYMPH_NODE,
}
ASYMMETRY_FINDINGS = (vocab.ASYMMETRY, vocab.FOCAL_ASYMMETRY, vocab.GLOBAL_ASYMMETRY)

FINDING_LABELS: tuple[str, ...] = tuple(CATEGORY_TO_FINDING.values())
# Label columns of every VinDr manifest, in this order. 'density' is multi-class (A-D).
LABEL_COLUMNS: tuple[str, ...] = (*FINDING_LABELS, vocab.ABNORMAL, "density")


def parse_categories(text: object, path: Path, column: str, line: int) -> list[str]:
    """Split one ``finding_categories`` cell into category names and check each one.

    Raises:
        DataError: Naming file, column and line, for an empty list or an unknown category.
    """
    if not isinstance(text, str) or not text.strip():
        raise invalid_value(path, column, line, text, "a list of finding categories")

    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    # Category names contain no commas, so splitting on commas is safe.
    names = [part.strip().strip("'\"").strip() for part in inner.split(",")]
    names = [name for name in names if name]
    if not names:
        raise invalid_value(path, column, line, text, "at least one finding category")

    for name in names:
        if name != NO_FINDING and name not in CATEGORY_TO_FINDING:
            known = ", ".join(repr(category) for category in [*CATEGORY_TO_FINDING, NO_FINDING])
            raise invalid_value(path, column, line, name, f"one of {known}")
    return names


def findings_to_labels_and_boxes(
    rows: pd.DataFrame,
    path: Path,
    image_ids: pd.Series,
    coordinates: tuple[str, str, str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn finding rows into image-level labels and one box per (row, category).

    Args:
        rows (pd.DataFrame): Finding rows with ``image_id``, ``finding_categories`` and the four
            ``coordinates`` columns already converted to float (NaN for no box).
        path (Path): File the rows came from, for messages.
        image_ids (pd.Series): Images of the manifest, in manifest order.
        coordinates (tuple[str, str, str, str]): Column names of xmin, ymin, xmax, ymax.

    Returns:
        tuple[pd.DataFrame, pd.DataFrame]: Image-level labels (columns :data:`FINDING_LABELS`
        and ``abnormal``, indexed like ``image_ids``, NaN for images without rows) and the box
        table in the manifest's box schema.

    Raises:
        DataError: For an unknown category or a row whose image is not in ``image_ids``.
    """
    known_images = set(image_ids)
    unknown = ~rows["image_id"].isin(known_images)
    if unknown.any():
        label = unknown.idxmax()
        raise invalid_value(
            path,
            "image_id",
            line_of(rows, label),
            rows["image_id"][label],
            "an image listed in the image table",
        )

    flags = np.zeros((len(rows), len(FINDING_LABELS)), dtype=float)
    column_of = {finding: position for position, finding in enumerate(FINDING_LABELS)}
    box_records: list[tuple[str, str, float, float, float, float]] = []
    rows_without_box = 0

    for row_number, (label, row) in enumerate(rows.iterrows()):
        names = parse_categories(
            row["finding_categories"], path, "finding_categories", line_of(rows, label)
        )
        findings = [CATEGORY_TO_FINDING[name] for name in names if name != NO_FINDING]
        for finding in findings:
            flags[row_number, column_of[finding]] = 1.0
            if finding in ASYMMETRY_FINDINGS:
                flags[row_number, column_of[vocab.ASYMMETRY]] = 1.0
        if not findings:
            continue

        box = [float(row[name]) for name in coordinates]
        if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
            rows_without_box += 1
            continue
        for finding in findings:
            box_records.append((str(row["image_id"]), finding, *box))

    if rows_without_box:
        logger.warning(
            "'%s': %d finding row(s) have no valid box (empty or zero-area coordinates); "
            "their image-level labels are kept",
            path,
            rows_without_box,
        )

    per_row = pd.DataFrame(flags, columns=list(FINDING_LABELS), index=rows.index)
    per_row[vocab.ABNORMAL] = per_row.max(axis=1)
    per_row["image_id"] = rows["image_id"]
    labels = image_level_labels(per_row, image_ids, [*FINDING_LABELS, vocab.ABNORMAL])

    without_rows = int(labels[vocab.ABNORMAL].isna().sum())
    if without_rows:
        logger.warning(
            "'%s' has no row for %d image(s); their finding labels are unknown (NaN)",
            path,
            without_rows,
        )

    boxes = pd.DataFrame.from_records(
        box_records, columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax"]
    )
    if boxes.empty:
        boxes = empty_boxes()
    return labels, boxes
