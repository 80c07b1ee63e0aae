"""mini-MIAS adapter: ``Info.txt`` and ``mdbNNN.pgm`` files into a manifest.

::

    <root>/Info.txt
    <root>/mdb001.pgm ... <root>/mdb322.pgm      (8-bit PGM, 1024 x 1024, MLO views)

Facts from ``Info.txt`` that shape the manifest:

- Consecutive images form pairs, one patient each: mdb001/mdb002, mdb003/mdb004, ... The
  patient id is the pair, e.g. ``mdb001-002``, so splits never separate the two breasts.
- Even numbers are left and odd numbers right breasts. NOTE: burned-in film markers disagree
  ("R ML" on mdb002, "L ML" on mdb209) and read mirrored, so the films may have been scanned
  mirrored. The Info.txt rule is kept because it matches the image geometry: odd images have
  the chest wall at the right edge, as a right breast is displayed, which is what
  laterality-based flipping needs.
- Centre coordinates count ``y`` from the **bottom** edge, so the row of a centre is
  ``height - 1 - y``. A centre names pixel ``(x, row)``, whose middle is at ``(x + 0.5,
  row + 0.5)`` in the manifest's continuous coordinates. The enclosing circle becomes the box
  ``centre ± radius``, clipped to the image.
- Rows without coordinates keep their image-level labels but give no box.
- Background tissue (F fatty, G fatty-glandular, D dense-glandular) is not BI-RADS density, so
  it goes into a ``tissue`` column and ``density`` stays unknown.

mini-MIAS has no official split. Fixed patient-level folds decide it: :data:`N_FOLDS` folds
stratified by patient-level (``abnormal``, ``malignant``) with salt :data:`FOLD_SALT`; fold
:data:`TEST_FOLD` is ``test``. The folds are computed over every pair in ``Info.txt``, so a
copy with only some of the images keeps each patient's split. Rows whose image file is absent
are dropped and counted in a log message.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from mammobench.api import (
    DataError,
    Manifest,
    assign_split_from_folds,
    empty_boxes,
    stratified_patient_folds,
    vocab,
)
from mammobench_mias.info import CLASS_TO_FINDING, NORMAL, read_info

logger = logging.getLogger(__name__)

LAYOUT = "mini-mias-pgm"
INFO_FILE = "Info.txt"
FINDING_LABELS = (vocab.MASS, vocab.CALCIFICATION, vocab.ARCHITECTURAL_DISTORTION, vocab.ASYMMETRY)
LABEL_COLUMNS: tuple[str, ...] = (*FINDING_LABELS, vocab.ABNORMAL, vocab.MALIGNANT)

N_FOLDS = 5
TEST_FOLD = 0
FOLD_SALT = "mammobench-mias-v1"

# Counts of the published Info.txt; a different count is logged, not rejected.
PUBLISHED_ROWS = 330
PUBLISHED_IMAGES = 322


def load(root: Path | str) -> Manifest:
    """Read mini-MIAS at ``root`` into a validated manifest.

    Args:
        root (Path | str): Folder with ``Info.txt`` and the ``mdbNNN.pgm`` images.

    Returns:
        Manifest: One row per present image (MLO view), labels ``mass``, ``calcification``,
        ``architectural_distortion``, ``asymmetry``, ``abnormal`` and ``malignant``, a ``tissue``
        column, and one box per abnormality with coordinates.

    Raises:
        DataError: When ``Info.txt`` is missing or invalid, or an image header cannot be read.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"mini-MIAS data root '{root}' not found; set MAMMOBENCH_MIAS_ROOT or pass --data-root"
        )

    info_path = root / INFO_FILE
    rows = read_info(info_path)
    _log_table_size(rows, info_path)

    images = _image_table(rows)
    folds = stratified_patient_folds(
        images, N_FOLDS, FOLD_SALT, stratify_columns=[vocab.ABNORMAL, vocab.MALIGNANT]
    )
    images = assign_split_from_folds(images, folds, test_folds=[TEST_FOLD])

    present = np.array([(root / path).is_file() for path in images["path"]], dtype=bool)
    if not present.all():
        absent_rows = int(rows["reference"].isin(set(images.loc[~present, "image_id"])).sum())
        logger.info(
            "mini-MIAS at '%s': dropped %d of %d Info.txt rows (%d of %d images) whose image "
            "file is absent",
            root,
            absent_rows,
            len(rows),
            int((~present).sum()),
            len(images),
        )
    images = images.loc[present].copy()
    images = _add_image_sizes(images, root)
    boxes = _boxes(rows[rows["reference"].isin(set(images["image_id"]))], images, info_path)

    return Manifest(
        dataset="mias",
        root=root,
        images=images,
        boxes=boxes,
        label_columns=LABEL_COLUMNS,
        layout=LAYOUT,
        source=str(root),
    ).validate()


def patient_of(number: int) -> str:
    """Return the patient id of image ``number``: the pair, e.g. 1 and 2 -> ``'mdb001-002'``."""
    first = number if number % 2 == 1 else number - 1
    return f"mdb{first:03d}-{first + 1:03d}"


def _image_table(rows: pd.DataFrame) -> pd.DataFrame:
    records = []
    for reference, group in rows.groupby("reference", sort=True):
        number = int(group["number"].iloc[0])
        patient_id = patient_of(number)
        classes = set(group["class"])
        findings = {CLASS_TO_FINDING[name] for name in classes if name != NORMAL}
        abnormal = bool(findings)
        record: dict[str, object] = {
            "image_id": reference,
            "patient_id": patient_id,
            "exam_id": patient_id,
            "laterality": "L" if number % 2 == 0 else "R",
            "view": "MLO",
            "path": f"{reference}.pgm",
            "split": "train",
            "density": None,
            "birads": float("nan"),
            "age": float("nan"),
            "site": "",
            "tissue": group["tissue"].iloc[0],
            vocab.ABNORMAL: float(abnormal),
            vocab.MALIGNANT: float((group["severity"] == "M").any()),
        }
        for finding in FINDING_LABELS:
            record[finding] = float(finding in findings)
        records.append(record)
    return pd.DataFrame.from_records(records)


def _add_image_sizes(images: pd.DataFrame, root: Path) -> pd.DataFrame:
    # Pillow reads only the PGM header here; the pixels are decoded later by the image readers.
    heights, widths = [], []
    for relative in images["path"]:
        try:
            with Image.open(root / relative) as image:
                width, height = image.size
        except (OSError, UnidentifiedImageError) as error:
            raise DataError(
                f"image '{root / relative}': header could not be read ({error}); replace the file"
            ) from error
        widths.append(float(width))
        heights.append(float(height))
    images["height"] = heights
    images["width"] = widths
    return images


def _boxes(rows: pd.DataFrame, images: pd.DataFrame, info_path: Path) -> pd.DataFrame:
    sizes = images.set_index("image_id")[["height", "width"]]
    located = rows[rows["radius"].notna() & (rows["class"] != NORMAL)]
    without_coordinates = int(((rows["class"] != NORMAL) & rows["radius"].isna()).sum())
    if without_coordinates:
        logger.info(
            "'%s': %d abnormal row(s) of present images have no centre or radius; their images "
            "keep their labels but get no box",
            info_path,
            without_coordinates,
        )

    records = []
    for _, row in located.iterrows():
        height = sizes.at[row["reference"], "height"]
        width = sizes.at[row["reference"], "width"]
        if not (0 <= row["x"] < width and 0 <= row["y"] < height):
            raise DataError(
                f"file '{info_path}', line {row['line']}: centre ({row['x']:g}, {row['y']:g}) "
                f"lies outside image '{row['reference']}' of {width:g} x {height:g} pixels"
            )
        centre_x = row["x"] + 0.5
        centre_y = (height - 1 - row["y"]) + 0.5  # y counts from the bottom edge
        radius = row["radius"]
        records.append(
            {
                "image_id": row["reference"],
                "category": CLASS_TO_FINDING[row["class"]],
                "xmin": max(centre_x - radius, 0.0),
                "ymin": max(centre_y - radius, 0.0),
                "xmax": min(centre_x + radius, width),
                "ymax": min(centre_y + radius, height),
            }
        )
    if not records:
        return empty_boxes()
    return pd.DataFrame.from_records(records)


def _log_table_size(rows: pd.DataFrame, path: Path) -> None:
    n_images = rows["reference"].nunique()
    if len(rows) != PUBLISHED_ROWS or n_images != PUBLISHED_IMAGES:
        logger.warning(
            "'%s' has %d rows for %d images; the published file has %d rows for %d images",
            path,
            len(rows),
            n_images,
            PUBLISHED_ROWS,
            PUBLISHED_IMAGES,
        )
