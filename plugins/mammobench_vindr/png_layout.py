"""VinDr-Mammo as preprocessed for Mammo-CLIP: breast-cropped 912x1520 PNG images and one CSV.

::

    <root>/vindr_detection_v1_folds.csv
    <root>/images_png/<patient_id>/<image_id>.png      (or mammo_clip/images_png/...)

The CSV (batmanlab/Mammo-CLIP, ``src/codebase/data_csv``) has one row per finding like
``finding_annotations.csv``, with ``study_id`` renamed to ``patient_id``, ``view_position`` to
``view``, ``.png`` appended to ``image_id``, and box columns ``resized_xmin`` ... ``resized_ymax``
in the 912 (width) x 1520 (height) frame of the PNG images. The manifest's boxes are those
``resized_*`` values, because the PNG is the original image of this layout.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mammobench.api import (
    DataError,
    Manifest,
    drop_missing_files,
    first_existing,
    line_of,
    read_csv_table,
    to_numbers,
)
from mammobench_vindr.dicom_layout import breast_level_images
from mammobench_vindr.findings import LABEL_COLUMNS, findings_to_labels_and_boxes

LAYOUT = "mammoclip-png"
FOLDS_CSV = "vindr_detection_v1_folds.csv"
IMAGE_DIR_CANDIDATES = ("images_png", "mammo_clip/images_png")
PNG_WIDTH = 912
PNG_HEIGHT = 1520

REQUIRED_COLUMNS = (
    "patient_id",
    "image_id",
    "laterality",
    "view",
    "breast_birads",
    "breast_density",
    "finding_categories",
    "split",
    "resized_xmin",
    "resized_ymin",
    "resized_xmax",
    "resized_ymax",
)
BOX_COORDINATES = ("resized_xmin", "resized_ymin", "resized_xmax", "resized_ymax")
# Columns that describe the image and must agree across all finding rows of one image.
IMAGE_LEVEL_COLUMNS = (
    "patient_id",
    "laterality",
    "view",
    "breast_density",
    "breast_birads",
    "split",
)
FIX = (
    "point the data root at the folder with 'vindr_detection_v1_folds.csv' from the Mammo-CLIP "
    "repository and the 'images_png' folder of PNG images"
)


def load_png_layout(root: Path) -> Manifest:
    """Read the Mammo-CLIP PNG layout at ``root`` into a validated manifest.

    Raises:
        DataError: Naming the file and column of the first problem found.
    """
    path = root / FOLDS_CSV
    rows = read_csv_table(path, REQUIRED_COLUMNS, FIX)
    rows["image_id"] = rows["image_id"].str.strip().str.removesuffix(".png")
    for column in BOX_COORDINATES:
        rows[column] = to_numbers(rows, column, path)
    _check_image_columns_agree(rows, path)

    first_rows = rows.drop_duplicates("image_id", keep="first")
    breast = first_rows.assign(
        series_id=first_rows.get("series_id", ""),
        height=str(PNG_HEIGHT),
        width=str(PNG_WIDTH),
    )
    images = breast_level_images(breast, path, study_column="patient_id", view_column="view")
    labels, boxes = findings_to_labels_and_boxes(rows, path, images["image_id"], BOX_COORDINATES)
    images = pd.concat([images, labels], axis=1)

    image_dir = first_existing(root, IMAGE_DIR_CANDIDATES)
    if image_dir is None:
        expected = " or ".join(f"'{root / candidate}'" for candidate in IMAGE_DIR_CANDIDATES)
        raise DataError(f"folder {expected} not found; {FIX}")
    relative_dir = image_dir.relative_to(root).as_posix()
    images["path"] = relative_dir + "/" + images["patient_id"] + "/" + images["image_id"] + ".png"
    images = drop_missing_files(images, root, "vindr")

    manifest = Manifest(
        dataset="vindr",
        root=root,
        images=images,
        boxes=boxes,
        label_columns=LABEL_COLUMNS,
        layout=LAYOUT,
        source=str(root),
    )
    return manifest.with_images(manifest.images).validate()


def _check_image_columns_agree(rows: pd.DataFrame, path: Path) -> None:
    for column in IMAGE_LEVEL_COLUMNS:
        first = rows.groupby("image_id")[column].transform("first")
        conflict = rows[column].ne(first) & rows[column].notna()
        if conflict.any():
            label = conflict.idxmax()
            raise DataError(
                f"file '{path}', column '{column}', line {line_of(rows, label)}: image "
                f"'{rows['image_id'][label]}' has {rows[column][label]!r} here but "
                f"{first[label]!r} on its first row; every row of one image must agree"
            )
